//! The `fjord` binary: argument parsing and start-up, nothing else.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use fjord::Config;

/// The broker's allocator: a hostile array count in a request (which the
/// protocol crate turns into `Vec::with_capacity` before it sees the frame
/// is short) reserves address space instead of aborting the process. It
/// belongs to the binary, not the library, so programs that embed fjord
/// keep their own.
#[global_allocator]
static ALLOCATOR: fjord::alloc::BrokerAllocator = fjord::alloc::BrokerAllocator;

/// A Kafka-wire-compatible broker. With no arguments: a single-node
/// cluster on PLAINTEXT://0.0.0.0:9092 with data under ./fjord-data.
///
/// Settings are Kafka's broker configs, in rising precedence: embedded
/// defaults, --config, KAFKA_* environment variables (KAFKA_LOG_RETENTION_MS
/// is log.retention.ms), --override. FJORD_LOG filters log output
/// (for example `info,fjord=debug`).
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// A Kafka server.properties file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A single setting, `key=value`, overriding file and environment; may be repeated.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// How log lines are written to standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Start nothing: exit 0 if the broker this configuration describes
    /// answers requests within 5 seconds, else 1 (the container image's
    /// HEALTHCHECK).
    #[arg(long)]
    health_check: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (timestamp, level, target, fields).
    Json,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's first line names the problem; usage follows with --help.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("fjord: {} (see --help)", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    init_logging(args.log_format);
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(e) => {
            // The message names the key or file; one line, no cause chain.
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.health_check {
        return health_check(&config);
    }
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FJORD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// Merges the sources in rising precedence: file, environment, flags.
fn load_config(args: &Args) -> anyhow::Result<Config> {
    let mut settings = BTreeMap::new();
    if let Some(path) = &args.config {
        settings.extend(Config::read_properties(path)?);
    }
    settings.extend(Config::env_settings(std::env::vars()));
    for o in &args.overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--override {o:?} is not of the form key=value"))?;
        settings.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(Config::from_sources(&settings)?)
}

/// `--health-check`: whether the node `config` describes serves requests.
fn health_check(config: &Config) -> ExitCode {
    let checked = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(fjord::health_check(config, std::time::Duration::from_secs(5))));
    match checked {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listeners: Vec<String> = config
            .listeners
            .iter()
            .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
            .collect();
        let advertised: Vec<String> = config
            .advertised_listeners
            .iter()
            .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
            .collect();
        let dirs: Vec<String> = config.log_dirs.iter().map(|d| d.display().to_string()).collect();
        let node_id = config.node_id;
        let is_broker = config.quorum.roles.broker;
        // Installed before start-up, so a SIGTERM at any moment from here on
        // is a clean shutdown, never the default action (instant death).
        let mut signals = Signals::install()?;
        let running = tokio::select! {
            running = fjord::start(config) => running?,
            _ = signals.recv() => {
                tracing::info!("signalled during start-up; stopping");
                return anyhow::Ok(());
            }
        };
        tracing::info!(
            node_id,
            cluster_id = %running.broker.cluster_id,
            listeners = %listeners.join(","),
            advertised = %advertised.join(","),
            log_dirs = %dirs.join(","),
            bound = %running.addr,
            metrics = %running.metrics_addr.map(|a| format!("http://{a}")).unwrap_or_default(),
            "fjord started"
        );
        // Kafka's own words for the same moments, which container
        // readiness checks wait for (testcontainers' KafkaContainer:
        // "Transitioning from RECOVERY to RUNNING"; others "Kafka Server
        // started"). `start` returns once the broker is registered and
        // unfenced, i.e. serves clients.
        if is_broker {
            tracing::info!(
                node_id,
                "The broker has been unfenced. Transitioning from RECOVERY to RUNNING."
            );
        }
        tracing::info!(node_id, "Kafka Server started");
        signals.recv().await;
        tracing::info!("shutting down");
        running.shutdown().await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}

/// SIGTERM (what an orchestrator sends) and SIGINT (Ctrl-C).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
