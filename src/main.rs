//! The `fjord` binary: argument parsing and start-up, nothing else.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use fjord::Config;

/// A Kafka-wire-compatible broker. With no arguments: a single-node
/// cluster on PLAINTEXT://0.0.0.0:9092 with data under ./fjord-data.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A Kafka server.properties file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A single setting, `key=value`, overriding file and environment.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FJORD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut settings = BTreeMap::new();
    if let Some(path) = &args.config {
        settings.extend(Config::read_properties(path)?);
    }
    for (name, value) in std::env::vars() {
        if let Some(key) = Config::env_key(&name) {
            settings.insert(key, value);
        }
    }
    for o in &args.overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--override {o:?} is not of the form key=value"))?;
        settings.insert(k.trim().to_string(), v.trim().to_string());
    }
    let config = match Config::from_sources(&settings) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            std::process::exit(2);
        }
    };
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
        let running = fjord::start(config).await?;
        tracing::info!(
            node_id,
            cluster_id = %running.broker.cluster_id,
            listeners = %listeners.join(","),
            advertised = %advertised.join(","),
            log_dirs = %dirs.join(","),
            bound = %running.addr,
            "fjord started"
        );
        wait_for_signal().await;
        tracing::info!("shutting down");
        running.shutdown().await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}

async fn wait_for_signal() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
