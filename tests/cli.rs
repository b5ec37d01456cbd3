//! The `fjord` binary's command line: --version, --help listing every flag,
//! one clear line and a non-zero exit for a bad flag or a bad config, and
//! JSON log lines with `--log-format json` through start-up and a SIGTERM
//! shutdown. Every wait is bounded.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const FJORD: &str = env!("CARGO_BIN_EXE_fjord");
/// Upper bound on a command that should end by itself.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

fn fjord(args: &[&str]) -> Command {
    let mut c = Command::new(FJORD);
    c.args(args)
        .env_remove("FJORD_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // KAFKA_* variables of the environment would become settings.
    for (name, _) in std::env::vars() {
        if name.starts_with("KAFKA_") {
            c.env_remove(name);
        }
    }
    c
}

/// Runs to completion, killed if it outlives `EXIT_TIMEOUT`.
fn run(args: &[&str]) -> Output {
    let child = fjord(args).spawn().expect("fjord starts");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(EXIT_TIMEOUT) {
        Ok(output) => output.expect("fjord's output"),
        Err(_) => {
            // SAFETY: a plain kill(2) of the child this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("fjord {args:?} did not exit within {EXIT_TIMEOUT:?}");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_names_the_release() {
    let out = run(&["--version"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout).trim(), format!("fjord {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn help_lists_every_flag() {
    let out = run(&["--help"]);
    assert!(out.status.success(), "{out:?}");
    let help = text(&out.stdout);
    for flag in [
        "--config",
        "--override",
        "--log-format",
        "--help",
        "--version",
        "FJORD_LOG",
        "KAFKA_",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}:\n{help}");
    }
}

/// One line on stderr, naming `what`, nothing on stdout, and exit code 2.
fn refused(args: &[&str], what: &str) {
    let out = run(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line, not:\n{err}");
    assert!(err.contains(what), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
}

#[test]
fn a_bad_flag_is_one_line_and_a_non_zero_exit() {
    refused(&["--no-such-flag"], "--no-such-flag");
    refused(&["--log-format", "xml"], "xml");
    refused(&["--override", "no-equals-sign"], "key=value");
}

#[test]
fn a_bad_config_is_one_line_and_a_non_zero_exit() {
    refused(&["--override", "log.retention.ms=abc"], "log.retention.ms");
    refused(&["--override", "metrics.listener=localhost:9404"], "metrics.listener");
    refused(
        &["--config", "/nonexistent/server.properties"],
        "/nonexistent/server.properties",
    );
}

/// Kills the broker if the test fails before it stops.
struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn json_logs_through_start_and_sigterm() {
    let dir = tempfile::tempdir().expect("a data dir");
    let log_dirs = format!("log.dirs={}", dir.path().display());
    let mut broker = Broker(
        fjord(&[
            "--log-format",
            "json",
            "--override",
            "listeners=PLAINTEXT://127.0.0.1:0",
            "--override",
            &log_dirs,
        ])
        .spawn()
        .expect("fjord starts"),
    );
    let stderr = broker.0.stderr.take().expect("stderr is piped");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + EXIT_TIMEOUT;
    let next_event = |message: &str| -> serde_json::Value {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {message:?} log line in time"));
            let event: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            for field in ["timestamp", "level", "target"] {
                assert!(event.get(field).is_some(), "no {field}: {line}");
            }
            if event["fields"]["message"] == message {
                return event;
            }
        }
    };
    let started = next_event("fjord started");
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["fields"]["node_id"], 1);
    assert!(
        started["fields"]["bound"]
            .as_str()
            .is_some_and(|b| b.starts_with("127.0.0.1:")),
        "{started}"
    );
    // SAFETY: a plain kill(2) of the child this test started.
    assert_eq!(unsafe { libc::kill(broker.0.id() as i32, libc::SIGTERM) }, 0);
    next_event("shutting down");
    next_event("stopped");
    let exit = loop {
        if let Some(status) = broker.0.try_wait().expect("wait for fjord") {
            break status;
        }
        assert!(Instant::now() < deadline, "fjord did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit after SIGTERM: {exit:?}");
}
