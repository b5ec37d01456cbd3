//! The test side of the wire: a broker started in-process on port 0, and a
//! minimal Kafka client that frames typed requests (kafka-protocol's
//! encoders, the header version each API and version calls for) and decodes
//! typed responses, checking that nothing is left over. Every read is bounded
//! by a timeout, so a broker that hangs fails a test instead of stalling it.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound on any single wait for the broker.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The port put in `advertised.listeners`; Metadata and DescribeCluster
/// must report it, whatever port the listener actually bound.
pub const ADVERTISED_PORT: i32 = 29092;
pub const ADVERTISED_HOST: &str = "127.0.0.1";
pub const NODE_ID: i32 = 1;

/// A broker serving on an ephemeral port (`fjord::testing::TestBroker`),
/// with its data in a temp dir that lives as long as it does.
pub struct TestBroker {
    broker: fjord::testing::TestBroker,
    pub ctx: Ctx,
}

/// What a test needs to reach and check a broker; cheap to clone into the
/// per-version tasks.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub addr: SocketAddr,
    pub cluster_id: String,
    pub log_dir: PathBuf,
}

impl TestBroker {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a broker with the test defaults plus `extra` overrides.
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        init_tracing();
        let advertised = format!("PLAINTEXT://{ADVERTISED_HOST}:{ADVERTISED_PORT}");
        let mut settings = vec![("advertised.listeners", advertised.as_str())];
        settings.extend_from_slice(extra);
        let broker = fjord::testing::TestBroker::start_with(&settings)
            .await
            .expect("broker starts");
        let ctx = Ctx {
            addr: broker.addr(),
            cluster_id: broker.broker().cluster_id.clone(),
            log_dir: broker.data_dir().to_path_buf(),
        };
        TestBroker { broker, ctx }
    }

    pub fn addr(&self) -> SocketAddr {
        self.ctx.addr
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.ctx.addr).await
    }

    /// Stops the broker; a shutdown that hangs fails the test.
    pub async fn stop(self) {
        tokio::time::timeout(READ_TIMEOUT, self.broker.stop())
            .await
            .expect("broker shuts down in time");
    }
}

fn init_tracing() {
    // Quiet unless RUST_LOG asks otherwise; many tests race to install it.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// One client connection speaking the Kafka framing.
pub struct Client {
    pub stream: TcpStream,
    next_correlation_id: i32,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(READ_TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        stream.set_nodelay(true).expect("set nodelay");
        Client {
            stream,
            // Distinctive ids make a mixed-up echo obvious.
            next_correlation_id: 1000,
        }
    }

    /// Sends one request and returns its decoded response; checks the
    /// correlation id echo and that the body was consumed exactly.
    pub async fn call<R: Request>(&mut self, version: i16, request: &R) -> R::Response {
        let correlation_id = self.send(version, request).await;
        self.receive::<R>(version, correlation_id).await
    }

    /// Writes one request frame; returns its correlation id.
    pub async fn send<R: Request>(&mut self, version: i16, request: &R) -> i32 {
        let correlation_id = self.take_correlation_id();
        let frame = encode_request(version, correlation_id, request);
        self.write_raw(&frame).await;
        correlation_id
    }

    pub fn take_correlation_id(&mut self) -> i32 {
        let id = self.next_correlation_id;
        self.next_correlation_id += 1;
        id
    }

    /// Reads the next response frame and decodes it as `R`'s response.
    pub async fn receive<R: Request>(&mut self, version: i16, correlation_id: i32) -> R::Response {
        let frame = self.read_frame().await.unwrap_or_else(|| {
            panic!(
                "{:?} v{version}: connection closed instead of a response",
                api_of::<R>()
            )
        });
        decode_response::<R>(version, correlation_id, frame)
    }

    pub async fn write_raw(&mut self, bytes: &[u8]) {
        tokio::time::timeout(READ_TIMEOUT, self.stream.write_all(bytes))
            .await
            .expect("write in time")
            .expect("write to broker");
    }

    /// The next frame's payload (without its size), or `None` when the broker
    /// closed the connection (end of stream or reset) before a whole frame.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let fut = async {
            let mut size = [0u8; 4];
            if self.stream.read_exact(&mut size).await.is_err() {
                return None;
            }
            let size = i32::from_be_bytes(size);
            assert!((0..=64 << 20).contains(&size), "implausible response frame size {size}");
            let mut buf = vec![0u8; size as usize];
            if self.stream.read_exact(&mut buf).await.is_err() {
                return None;
            }
            Some(Bytes::from(buf))
        };
        tokio::time::timeout(READ_TIMEOUT, fut)
            .await
            .expect("the broker neither answered nor closed the connection in time")
    }

    /// Asserts that the broker closes this connection without answering.
    pub async fn expect_closed(&mut self, what: &str) {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(READ_TIMEOUT, self.stream.read(&mut buf)).await;
        match read {
            Err(_) => panic!("{what}: the broker kept the connection open (no close within {READ_TIMEOUT:?})"),
            Ok(Ok(0)) | Ok(Err(_)) => {}
            Ok(Ok(n)) => panic!(
                "{what}: expected the connection to be closed, got {n} bytes: {:02x?}",
                &buf[..n]
            ),
        }
    }
}

pub fn api_of<R: Request>() -> ApiKey {
    ApiKey::try_from(R::KEY).expect("a known api key")
}

/// A whole request frame: size, header (the version `ApiKey` prescribes), body.
pub fn encode_request<R: Request>(version: i16, correlation_id: i32, request: &R) -> Bytes {
    let api = api_of::<R>();
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(StrBytes::from_static_str("fjord-proto-tests"));
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, api.request_header_version(version))
        .unwrap_or_else(|e| panic!("encode {api:?} v{version} request header: {e}"));
    request
        .encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("encode {api:?} v{version} request: {e}"));
    finish_frame(buf)
}

/// Fills in the size prefix of a frame built after a placeholder i32.
pub fn finish_frame(mut buf: BytesMut) -> Bytes {
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    buf.freeze()
}

pub fn decode_response<R: Request>(version: i16, correlation_id: i32, mut frame: Bytes) -> R::Response {
    let api = api_of::<R>();
    let header = ResponseHeader::decode(&mut frame, api.response_header_version(version))
        .unwrap_or_else(|e| panic!("{api:?} v{version}: bad response header: {e}"));
    assert_eq!(
        header.correlation_id, correlation_id,
        "{api:?} v{version}: correlation id echo"
    );
    let body = <R::Response as Decodable>::decode(&mut frame, version)
        .unwrap_or_else(|e| panic!("{api:?} v{version}: cannot decode response body: {e:#}"));
    assert!(
        !frame.has_remaining(),
        "{api:?} v{version}: {} bytes left over after the response body: {:02x?}",
        frame.remaining(),
        &frame[..]
    );
    body
}

/// Runs `check` for every version fjord advertises for `api`, each in its own
/// task, and fails once at the end naming every version that failed, so one
/// broken version does not hide the others.
pub async fn each_version<F, Fut>(api: ApiKey, check: F)
where
    F: Fn(i16) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let range = fjord::handlers::supported_versions(api).unwrap_or_else(|| panic!("{api:?} is not advertised"));
    let mut failed = Vec::new();
    for version in range.min..=range.max {
        if let Err(e) = tokio::spawn(check(version)).await {
            let message = match e.try_into_panic() {
                Ok(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "non-string panic".into()),
                Err(e) => e.to_string(),
            };
            failed.push(format!("v{version}: {message}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{api:?}: {} version(s) failed:\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
}

/// Opens a fresh connection and checks the broker still answers ApiVersions:
/// the check after every request that should have closed a connection.
pub async fn assert_still_serving(addr: SocketAddr) {
    let mut c = Client::connect(addr).await;
    let mut req = kafka_protocol::messages::ApiVersionsRequest::default();
    req.client_software_name = StrBytes::from_static_str("fjord-proto-tests");
    req.client_software_version = StrBytes::from_static_str("0.1.0");
    let resp = c.call(3, &req).await;
    assert_eq!(resp.error_code, 0, "ApiVersions after a closed connection");
    assert!(!resp.api_keys.is_empty());
}

/// Runs the calling test's body in a child process (this same test binary,
/// filtered to this one test) when it could take the whole process down: a
/// broker that aborts on hostile input must fail one test, not the suite.
/// Returns true in the parent, which has then checked the child's outcome.
pub fn isolate(test_name: &str) -> bool {
    const CHILD: &str = "FJORD_PROTO_ISOLATED";
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(exe)
            .args([test_name, "--exact", "--test-threads=1", "--nocapture"])
            .env(CHILD, "1")
            .output()
            .expect("spawn isolated test")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail = |s: &str| {
        s.lines()
            .rev()
            .take(25)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "isolated test {test_name} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        describe_status(&out.status),
        tail(&stdout),
        tail(&stderr)
    );
    true
}

fn describe_status(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(sig)) => format!("the process was killed by signal {sig}, i.e. it crashed"),
        (Some(code), _) => format!("exit code {code}"),
        _ => "unknown status".into(),
    }
}

/// A successful result carries no error message; Kafka sends null or an
/// empty string depending on the API, and clients read neither.
pub fn no_message(message: &Option<StrBytes>) -> bool {
    message.as_ref().is_none_or(|m| m.is_empty())
}

/// The process's peak resident set (VmHWM), to show that hostile input
/// did not make the in-process broker touch gigabytes.
pub fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in kB");
    kib * 1024
}

pub fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

pub fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}
