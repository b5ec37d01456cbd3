//! A cleanly stopped single node starts again at once on its data: its
//! shutdown fences it in the metadata log (a reduced controlled shutdown),
//! so the next incarnation does not wait for the old session to expire
//! (`broker.session.timeout.ms`, 9 s by default).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fjord::Config;

fn config(dir: &std::path::Path) -> Config {
    let mut set = BTreeMap::new();
    set.insert("log.dirs".to_string(), dir.display().to_string());
    set.insert("listeners".to_string(), "PLAINTEXT://127.0.0.1:0".to_string());
    Config::from_sources(&set).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_restart_does_not_wait_for_the_old_session() {
    let dir = tempfile::tempdir().unwrap();
    let running = fjord::start(config(dir.path())).await.unwrap();
    running.shutdown().await;

    let started = Instant::now();
    let running = fjord::start(config(dir.path())).await.unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "restart took {took:?}: the old incarnation's session was waited out"
    );
    let id = running.broker.config.node_id;
    let image = running.broker.metadata.image();
    assert!(image.brokers.get(&id).is_some_and(|b| !b.fenced), "unfenced again");
    running.shutdown().await;
}
