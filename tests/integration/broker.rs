//! A real Kafka-compatible broker for the tests: `tansu`, started on a free
//! loopback port and stopped on drop. Install it with `cargo install tansu
//! --version 0.6.0 --locked --features dynostore` (`.ci/run` does); set `TANSU` to use
//! another binary.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rskafka::client::ClientBuilder;

/// How to get the broker, printed when it is missing.
const INSTALL: &str = "the Kafka tests need the `tansu` broker: run \
`scripts/install-test-servers.sh` (README's test command does; it runs `cargo install tansu \
--version 0.6.0 --locked --features dynostore`, 10-30 minutes on an idle 2-core machine), \
or set TANSU=/path/to/tansu";

fn tansu() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU") {
        return PathBuf::from(p);
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("tansu")).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME").or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo").into_os_string())
    }) {
        candidates.push(PathBuf::from(home).join("bin").join("tansu"));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{INSTALL}"))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running tansu broker with in-memory storage.
pub struct Broker {
    child: Option<Child>,
    log: tempfile::NamedTempFile,
    /// `127.0.0.1:PORT` it listens on.
    pub addr: String,
}

impl Broker {
    /// Starts a broker advertising the address it listens on.
    pub fn start() -> Broker {
        let port = free_port();
        Broker::start_advertising(port, port)
    }

    /// Starts a broker on `port` that tells clients to connect to
    /// `advertised` (a proxy in front of it).
    pub fn start_advertising(port: u16, advertised: u16) -> Broker {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(tansu())
            .args(["broker", "--listener-url"])
            .arg(format!("tcp://127.0.0.1:{port}"))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://127.0.0.1:{advertised}"))
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting tansu: {e}; {INSTALL}"));
        let mut broker = Broker {
            child: Some(child),
            log,
            addr: format!("127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while TcpStream::connect(&broker.addr).is_err() {
            if let Some(status) = broker.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("tansu exited ({status}): {}", broker.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "tansu did not listen on {} within 60 s: {}",
                broker.addr,
                broker.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        broker
    }

    /// What the broker printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Kills the broker and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Creates `topic` with `partitions` partitions.
pub fn create_topic(addr: &str, topic: &str, partitions: i32) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = ClientBuilder::new(vec![addr.to_string()])
            .build()
            .await
            .unwrap();
        client
            .controller_client()
            .unwrap()
            .create_topic(topic, partitions, 1, 5_000)
            .await
            .unwrap();
    });
}

/// A TCP forwarder on a free loopback port that counts the bytes clients
/// send through it.
pub struct Proxy {
    /// The port clients connect to.
    pub port: u16,
    /// Bytes sent by clients so far.
    pub sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Forwards every connection to `127.0.0.1:target`.
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counter, stopping) = (sent.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let up = counter.clone();
                std::thread::spawn(move || pump(client, server, Some(up)));
                std::thread::spawn(move || pump(s2, c2, None));
            }
        });
        Proxy { port, sent, stop }
    }

    /// Bytes clients sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, count: Option<Arc<AtomicU64>>) {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(c) = &count {
            c.fetch_add(n as u64, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
