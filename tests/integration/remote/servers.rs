//! Real object stores on 127.0.0.1 for the remote-input tests, started and
//! stopped (by PID) here: `s3s-fs` (an S3 server over a directory) and
//! OpenStack Swift (proxy, account, container and object servers with
//! tempauth and memcached). And a small HTTP/1.1 client to fill them.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::broker::free_port;

const S3S_INSTALL: &str = "the S3 tests need `s3s-fs`: run `scripts/install-test-servers.sh` \
(README's test command does; it runs `cargo install s3s-fs --version 0.14.1 --locked --features binary`, \
about 4 minutes), or set S3S_FS=/path/to/s3s-fs";

const SWIFT_INSTALL: &str = "the Swift tests need OpenStack Swift and memcached: run \
`scripts/install-test-servers.sh` as root (README's test command does; it runs `apt-get install \
--no-install-recommends swift-proxy swift-account swift-container swift-object memcached`)";

/// The S3 test credentials (the secret is searched for in every output).
pub const S3_KEY: &str = "telescopekey";
pub const S3_SECRET: &str = "s3cr3t-Vq7Zr2Lw9Kp4";
/// The Swift test credentials.
pub const SWIFT_USER: &str = "telescope:reader";
pub const SWIFT_KEY: &str = "sw1ftk3y-Hx8Jd3Mn6";

fn cargo_bin(name: &str, var: &str, install: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME").or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo").into_os_string())
    }) {
        candidates.push(PathBuf::from(home).join("bin").join(name));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{install}"))
}

/// Waits until something accepts connections on `port`.
fn wait_port(port: u16, what: &str, log: &Path) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(30) {
            panic!(
                "{what} did not listen on port {port}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Children killed (by PID) on drop.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An `s3s-fs` server over a temporary directory (a bucket is a
/// subdirectory).
pub struct S3 {
    _children: Children,
    /// The data directory.
    pub root: tempfile::TempDir,
    /// The port.
    pub port: u16,
}

impl S3 {
    /// Starts a server; `auth`: with the test key pair (else anonymous).
    pub fn start(auth: bool) -> S3 {
        let root = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = root.path().join("s3s.log");
        let mut cmd = Command::new(cargo_bin("s3s-fs", "S3S_FS", S3S_INSTALL));
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
        if auth {
            cmd.args(["--access-key", S3_KEY, "--secret-key", S3_SECRET]);
        }
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let child = cmd
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting s3s-fs: {e}; {S3S_INSTALL}"));
        let s3 = S3 {
            _children: Children(vec![child]),
            root,
            port,
        };
        wait_port(port, "s3s-fs", &log);
        s3
    }

    /// Puts `bytes` at `bucket/key` as a file of the server's directory
    /// (what it serves).
    pub fn put_file(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let path = self.root.path().join("data").join(bucket).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Creates an empty bucket.
    pub fn bucket(&self, bucket: &str) {
        std::fs::create_dir_all(self.root.path().join("data").join(bucket)).unwrap();
    }

    /// The environment for the tool: endpoint, key pair, plain http.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env_via(self.port)
    }

    /// The environment with the endpoint on another port (a proxy).
    pub fn env_via(&self, port: u16) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
            ("AWS_ACCESS_KEY_ID", S3_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// OpenStack Swift (four servers, one replica, tempauth) and memcached,
/// with a temporary swift.conf (listing pages of 100 names) bound over
/// /etc/swift/swift.conf in the servers' own mount namespace only.
pub struct Swift {
    _children: Children,
    _dir: tempfile::TempDir,
    /// The proxy's port.
    pub port: u16,
    /// memcached's port (flushing it revokes every token).
    pub memcached: u16,
}

const SWIFT_SERVERS: [(&str, &str); 3] = [
    ("account", "account"),
    ("container", "container"),
    ("object", "object"),
];

impl Swift {
    /// Starts the servers and waits until a container can be created.
    pub fn start() -> Swift {
        for b in [
            "swift-proxy-server",
            "swift-ring-builder",
            "memcached",
            "unshare",
        ] {
            if !Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {b}"))
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            {
                panic!("{b} is missing: {SWIFT_INSTALL}");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("srv/d1")).unwrap();
        std::fs::write(
            d.join("swift.conf"),
            "[swift-hash]\nswift_hash_path_suffix = telescope\nswift_hash_path_prefix = telescope\n\
             [storage-policy:0]\nname = Policy-0\ndefault = yes\n\
             [swift-constraints]\ncontainer_listing_limit = 100\n",
        )
        .unwrap();
        let mut children = Children(Vec::new());
        let memcached = free_port();
        children.0.push(
            Command::new("memcached")
                .args(["-l", "127.0.0.1", "-U", "0", "-u", "root", "-p"])
                .arg(memcached.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting memcached: {e}; {SWIFT_INSTALL}")),
        );
        let mut ports = Vec::new();
        for (kind, egg) in SWIFT_SERVERS {
            let port = free_port();
            ports.push((kind, port));
            std::fs::write(
                d.join(format!("{kind}.conf")),
                format!(
                    "[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = {port}\nworkers = 0\n\
                     mount_check = false\ndevices = {srv}\nswift_dir = {dir}\n\
                     log_facility = LOG_LOCAL0\n\
                     [pipeline:main]\npipeline = {kind}-server\n\
                     [app:{kind}-server]\nuse = egg:swift#{egg}\n",
                    srv = d.join("srv").display(),
                    dir = d.display(),
                ),
            )
            .unwrap();
            let ring = |args: &[&str]| {
                let ok = Command::new("swift-ring-builder")
                    .arg(format!("{kind}.builder"))
                    .args(args)
                    .current_dir(d)
                    .stdout(Stdio::null())
                    .status()
                    .unwrap()
                    .code();
                // rebalance exits 1 on warnings (one device, one replica).
                assert!(
                    matches!(ok, Some(0) | Some(1)),
                    "swift-ring-builder {args:?}"
                );
            };
            ring(&["create", "6", "1", "0"]);
            ring(&["add", &format!("r1z1-127.0.0.1:{port}/d1"), "100"]);
            ring(&["rebalance"]);
        }
        let port = free_port();
        std::fs::write(
            d.join("proxy.conf"),
            format!(
                "[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = {port}\nworkers = 0\nswift_dir = {dir}\n\
                 [pipeline:main]\npipeline = catch_errors cache tempauth proxy-server\n\
                 [app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\
                 [filter:tempauth]\nuse = egg:swift#tempauth\nuser_telescope_reader = {SWIFT_KEY} .admin\n\
                 token_life = 86400\n\
                 [filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:{memcached}\n\
                 [filter:catch_errors]\nuse = egg:swift#catch_errors\n",
                dir = d.display(),
            ),
        )
        .unwrap();
        let log = d.join("swift.log");
        let mut servers: Vec<(String, u16)> = ports
            .iter()
            .map(|(k, p)| {
                (
                    format!("swift-{k}-server {}", d.join(format!("{k}.conf")).display()),
                    *p,
                )
            })
            .collect();
        servers.push((
            format!("swift-proxy-server {}", d.join("proxy.conf").display()),
            port,
        ));
        for (server, _) in &servers {
            let script = format!(
                "mount --bind {conf} /etc/swift/swift.conf && exec {server}",
                conf = d.join("swift.conf").display()
            );
            children.0.push(
                Command::new("unshare")
                    .args(["--mount", "--propagation", "private", "sh", "-c", &script])
                    .stdin(Stdio::null())
                    .stdout(
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&log)
                            .unwrap(),
                    )
                    .stderr(
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&log)
                            .unwrap(),
                    )
                    .spawn()
                    .unwrap_or_else(|e| panic!("starting {server}: {e}; {SWIFT_INSTALL}")),
            );
        }
        wait_port(memcached, "memcached", &log);
        for (server, p) in &servers {
            wait_port(*p, server, &log);
        }
        let swift = Swift {
            _children: children,
            _dir: dir,
            port,
            memcached,
        };
        // The first writes may get 503 until every server answers.
        let start = Instant::now();
        loop {
            let (token, storage) = swift.login();
            let r = request(
                "PUT",
                &format!("{storage}/probe"),
                &[("X-Auth-Token", &token)],
                b"",
            );
            if r.status / 100 == 2 {
                break;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "Swift did not accept a container (status {}): {}",
                    r.status,
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        swift
    }

    /// The v1 auth URL.
    pub fn auth_url(&self) -> String {
        format!("http://127.0.0.1:{}/auth/v1.0", self.port)
    }

    /// A token and the account's storage URL (v1 auth).
    pub fn login(&self) -> (String, String) {
        let r = request(
            "GET",
            &self.auth_url(),
            &[("X-Auth-User", SWIFT_USER), ("X-Auth-Key", SWIFT_KEY)],
            b"",
        );
        assert_eq!(r.status, 200, "tempauth login");
        (
            r.header("x-auth-token").expect("token").to_string(),
            r.header("x-storage-url").expect("storage url").to_string(),
        )
    }

    /// Creates `container` and puts the objects in it.
    pub fn put(&self, container: &str, objects: &[(&str, &[u8])]) {
        let (token, storage) = self.login();
        let r = request(
            "PUT",
            &format!("{storage}/{container}"),
            &[("X-Auth-Token", &token)],
            b"",
        );
        assert!(r.status / 100 == 2, "PUT container: {}", r.status);
        for (name, bytes) in objects {
            let r = request(
                "PUT",
                &format!("{storage}/{container}/{name}"),
                &[("X-Auth-Token", &token)],
                bytes,
            );
            assert_eq!(r.status, 201, "PUT {name}");
        }
    }

    /// Revokes every tempauth token (they live in memcached).
    pub fn revoke_tokens(&self) {
        let mut s = TcpStream::connect(("127.0.0.1", self.memcached)).unwrap();
        s.write_all(b"flush_all\r\n").unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"OK\r\n");
    }

    /// The environment of v1 auth.
    pub fn v1_env(&self) -> Vec<(String, String)> {
        vec![
            ("ST_AUTH".into(), self.auth_url()),
            ("ST_USER".into(), SWIFT_USER.into()),
            ("ST_KEY".into(), SWIFT_KEY.into()),
        ]
    }
}

/// An HTTP response (the whole body read).
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a new connection (`Connection: close`).
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = TcpStream::connect(host).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head")
        + 4;
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: all[end..].to_vec(),
    }
}
