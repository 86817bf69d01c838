//! Swift objects and prefixes from a real OpenStack Swift (tempauth): v1
//! auth, a token given, tokens revoked mid-run, Keystone v3 (a stand-in
//! answering with the JSON of Keystone's API reference, handing out real
//! Swift tokens).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use std::time::{Duration, Instant};

use super::proxy::{Fault, Proxy};
use super::servers::{Swift, SWIFT_KEY};
use super::{assert_same, error_lines, local, minute_object, run, stats_lines, write_local};
use crate::util::{bin, text};

const CONTAINER: &str = "telescope-ucsdnt-avro-flowtuple-v4-2024";
/// Objects of the day: three listing pages of 100.
const N: u32 = 210;
const DAY: &str = "datasource=ucsd-nt/year=2024/month=01/day=01/";

/// N one-minute objects of a day (three listing pages of 100), and one of
/// the next day; returns the expected local output of the day's prefix and
/// the first object's name.
fn fill(swift: &Swift) -> (Vec<u8>, String) {
    // Each object its own minute: a run prints a timestamp once.
    let minutes: Vec<Vec<u8>> = (0..N as usize).map(minute_object).collect();
    let names: Vec<String> = (0..N)
        .map(|i| {
            let ts = 1704067200 + 60 * i;
            format!("{DAY}hour={:02}/ucsd-nt.{ts}.flowtuple-v4.avro", i / 60)
        })
        .collect();
    let mut objects: Vec<(&str, &[u8])> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), &minutes[i][..]))
        .collect();
    objects.push((
        "datasource=ucsd-nt/year=2024/month=01/day=02/x.avro",
        &minutes[0],
    ));
    swift.put(CONTAINER, &objects);
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<String> = (0..N as usize)
        .map(|i| write_local(dir.path(), &format!("{i:04}.avro"), &minutes[i]))
        .collect();
    let mut args = vec!["--mode", "unfiltered"];
    args.extend(paths.iter().map(String::as_str));
    (local(&args), names[0].clone())
}

/// The local output of the day's first object alone.
fn first_minute_alone() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = write_local(dir.path(), "first.avro", &minute_object(0));
    local(&[&path, "unfiltered"])
}

/// One Swift for every case (its four servers take a while to start).
#[test]
fn swift_objects_prefixes_tokens_and_keystone() {
    let swift = Swift::start();
    let (expected_day, first) = fill(&swift);
    v1_auth_and_given_tokens(&swift, &expected_day, &first);
    a_token_revoked_mid_run_is_renewed_once_when_credentials_allow(&swift, &expected_day);
    keystone_v3_password_auth_reads_and_renews(&swift, &expected_day, &first);
    faults_resume_and_a_change_is_refused_by_swift(&swift);
}

/// Through a proxy (OS_STORAGE_URL pointing at it): a reset and a stall
/// are resumed; an object replaced during a stall is refused by Swift
/// itself (412 to the If-Match of the resumed read).
fn faults_resume_and_a_change_is_refused_by_swift(swift: &Swift) {
    let dir = tempfile::tempdir().unwrap();
    let (big, big_path) = super::faults::big_object(dir.path());
    swift.put(CONTAINER, &[("big.avro", &big)]);
    let expected = local(&[&big_path, "unfiltered"]);
    let object = format!("swift://{CONTAINER}/big.avro");
    let (_, storage) = swift.login();
    let env_via = |port: u16| -> Vec<(String, String)> {
        let mut env = swift.v1_env();
        let via = storage.replace(&format!(":{}/", swift.port), &format!(":{port}/"));
        env.push(("OS_STORAGE_URL".into(), via));
        env
    };
    let args = ["--remote-stall-secs", "1", &object, "unfiltered"];
    // The first connection is the look at the header.
    let faults = vec![Fault::Reset, Fault::Stall(Duration::from_secs(4))];
    let proxy = Proxy::skipping(swift.port, 1, 600_000, faults);
    assert_same(&run(&args, &env_via(proxy.port), &[]), &expected);
    assert_eq!(proxy.fired(), 2);
    let mut changed = big.clone();
    let at = changed.len() - 100;
    changed[at] ^= 0xff;
    let proxy = Proxy::skipping(
        swift.port,
        1,
        300_000,
        vec![Fault::Stall(Duration::from_secs(3))],
    );
    let env = env_via(proxy.port);
    let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let child = std::thread::spawn(move || {
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        run(&args, &env, &[])
    });
    let start = Instant::now();
    while proxy.fired() == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "no stall");
        std::thread::sleep(Duration::from_millis(5));
    }
    swift.put(CONTAINER, &[("big.avro", &changed)]);
    let out = child.join().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with(&format!("flowtuple-series: {object}: "))
            && stderr.contains("the object changed while it was read (at byte "),
        "{stderr}"
    );
}

fn v1_auth_and_given_tokens(swift: &Swift, expected_day: &[u8], first: &str) {
    let prefix = format!("swift://{CONTAINER}/{DAY}");
    // v1 auth, a prefix of three listing pages.
    let out = run(
        &["--stats", "--mode", "unfiltered", &prefix],
        &swift.v1_env(),
        &[],
    );
    let stats = text(&out).1;
    assert!(out.status.success(), "{stats}");
    assert!(
        out.stdout == expected_day,
        "prefix output differs from the local files"
    );
    assert_eq!(
        stats_lines(&stats).len(),
        N as usize,
        "every listing page read"
    );
    // A token already issued.
    let (token, storage) = swift.login();
    let env = vec![
        ("OS_AUTH_TOKEN".to_string(), token.clone()),
        ("OS_STORAGE_URL".to_string(), storage.clone()),
    ];
    let object = format!("swift://{CONTAINER}/{first}");
    let expected = first_minute_alone();
    assert_same(&run(&[&object, "unfiltered"], &env, &[&token]), &expected);
    // Revoked: a bare token cannot be renewed, one line says so.
    swift.revoke_tokens();
    let out = run(&[&object, "unfiltered"], &env, &[&token]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty());
    assert_eq!(error_lines(&stderr).len(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("{object}: authentication failed")),
        "{stderr}"
    );
    assert!(
        stderr.contains("a bare OS_AUTH_TOKEN cannot be renewed"),
        "{stderr}"
    );
    // With v1 credentials too, the refused token is renewed.
    let both: Vec<_> = env.iter().cloned().chain(swift.v1_env()).collect();
    assert_same(&run(&[&object, "unfiltered"], &both, &[&token]), &expected);
    // Wrong key, missing object, missing container, no credentials.
    let wrong = "Wr0ngKey-77Qx";
    let mut bad = swift.v1_env();
    bad[2].1 = wrong.into();
    let out = run(&[&object, "unfiltered"], &bad, &[wrong]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .contains("authentication failed (status 401 Unauthorized); check ST_USER and ST_KEY"),
        "{}",
        text(&out).1
    );
    let missing = format!("swift://{CONTAINER}/{DAY}missing.avro");
    let out = run(
        &["--mode", "unfiltered", &missing, &object],
        &swift.v1_env(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, expected, "the other object goes on");
    assert_eq!(
        text(&out).1,
        format!(
            "flowtuple-series: {missing}: not found (404): check the container and object names\n{}",
            crate::util::tally(2, 1, 1)
        )
    );
    let out = run(
        &["--mode", "unfiltered", "swift://nocontainer/"],
        &swift.v1_env(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .contains("swift://nocontainer/: not found (404)"),
        "{}",
        text(&out).1
    );
    let out = run(
        &[
            "--mode",
            "unfiltered",
            &format!("swift://{CONTAINER}/nothing/"),
        ],
        &swift.v1_env(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no object under this prefix"));
    let out = run(&[&object, "unfiltered"], &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .contains("no Swift credentials: set OS_AUTH_URL"),
        "{}",
        text(&out).1
    );
}

/// Runs the day's prefix one object at a time and revokes every token once
/// the first object is done; returns the run's output.
fn revoked_mid_run(swift: &Swift, env: &[(String, String)]) -> std::process::Output {
    let mut cmd = bin("flowtuple-series");
    let mut child = cmd
        .args([
            "--stats",
            "--mode",
            "unfiltered",
            "-j",
            "1",
            "--read-ahead",
            "0",
        ])
        .arg(format!("swift://{CONTAINER}/{DAY}"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut all = Vec::new();
        stdout.read_to_end(&mut all).unwrap();
        all
    });
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.contains("stats: swift://"), "{first}");
    swift.revoke_tokens();
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the tokens were revoked"
    );
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    std::process::Output {
        status: child.wait().unwrap(),
        stdout: stdout.join().unwrap(),
        stderr: format!("{first}{rest}").into_bytes(),
    }
}

fn a_token_revoked_mid_run_is_renewed_once_when_credentials_allow(
    swift: &Swift,
    expected_day: &[u8],
) {
    let out = revoked_mid_run(swift, &swift.v1_env());
    let stderr = text(&out).1;
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout == expected_day, "output differs after renewal");
    assert!(!stderr.contains(SWIFT_KEY));
    // A bare token: the objects after the revocation fail, each one line.
    let (token, storage) = swift.login();
    let env = vec![
        ("OS_AUTH_TOKEN".to_string(), token.clone()),
        ("OS_STORAGE_URL".to_string(), storage),
    ];
    let out = revoked_mid_run(swift, &env);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr.contains(&token));
    let refused = stderr
        .lines()
        .filter(|l| l.contains("cannot be renewed"))
        .count();
    assert!(
        refused >= N as usize - 10,
        "{refused} objects refused: {stderr}"
    );
}

/// A stand-in for Keystone's `POST /v3/auth/tokens`: checks the request
/// against the API reference's password/project-scope body and answers
/// 201 with `X-Subject-Token` and a catalog (the reference's shape) whose
/// object-store endpoint is the real Swift; the token is a real tempauth
/// token. Counts the logins.
fn keystone(swift: &Swift, password: &'static str) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let logins = Arc::new(AtomicUsize::new(0));
    let (n, auth_url) = (Arc::clone(&logins), swift.auth_url());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut length = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let expected = serde_json::json!({"auth": {"identity": {"methods": ["password"],
                "password": {"user": {"name": "alice", "domain": {"id": "default"}, "password": password}}},
                "scope": {"project": {"name": "telescope", "domain": {"id": "default"}}}}});
            let reply = if line.starts_with("POST /v3/auth/tokens ") && body == expected {
                n.fetch_add(1, Ordering::SeqCst);
                let r = super::servers::request(
                    "GET",
                    &auth_url,
                    &[
                        ("X-Auth-User", super::servers::SWIFT_USER),
                        ("X-Auth-Key", SWIFT_KEY),
                    ],
                    b"",
                );
                let token = r.header("x-auth-token").unwrap().to_string();
                let storage = r.header("x-storage-url").unwrap().to_string();
                let json = serde_json::json!({"token": {
                    "methods": ["password"],
                    "expires_at": "2030-11-07T02:58:43.578887Z",
                    "project": {"domain": {"id": "default", "name": "Default"}, "id": "a6944d763bf64ee6a275f1263fae0352", "name": "telescope"},
                    "catalog": [
                        {"endpoints": [{"region_id": "RegionOne", "url": "http://127.0.0.1:1/identity", "region": "RegionOne", "interface": "public", "id": "068d"}],
                         "type": "identity", "id": "0507", "name": "keystone"},
                        {"endpoints": [
                            {"region_id": "RegionOne", "url": "http://127.0.0.1:1/internal-only", "region": "RegionOne", "interface": "internal", "id": "1"},
                            {"region_id": "RegionOne", "url": storage, "region": "RegionOne", "interface": "public", "id": "2"}],
                         "type": "object-store", "id": "3", "name": "swift"}],
                    "user": {"domain": {"id": "default", "name": "Default"}, "id": "ee4d", "name": "alice"},
                    "audit_ids": ["3T2dc1CGQxyJsHdDu1xkcw"],
                    "issued_at": "2015-11-07T01:58:43.578929Z"}})
                .to_string();
                format!(
                    "HTTP/1.1 201 Created\r\nX-Subject-Token: {token}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                )
            } else {
                let json = r#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#;
                format!(
                    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{json}",
                    json.len()
                )
            };
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    (port, logins)
}

fn keystone_v3_password_auth_reads_and_renews(swift: &Swift, expected_day: &[u8], first: &str) {
    const PASSWORD: &str = "k3ystone-Pw-93Lx";
    let (port, logins) = keystone(swift, PASSWORD);
    let env: Vec<(String, String)> = [
        ("OS_AUTH_URL", format!("http://127.0.0.1:{port}/v3")),
        ("OS_USERNAME", "alice".into()),
        ("OS_PASSWORD", PASSWORD.into()),
        ("OS_PROJECT_NAME", "telescope".into()),
        ("OS_IDENTITY_API_VERSION", "3".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let object = format!("swift://{CONTAINER}/{first}");
    let expected = first_minute_alone();
    assert_same(&run(&[&object, "unfiltered"], &env, &[PASSWORD]), &expected);
    assert_eq!(logins.load(Ordering::SeqCst), 1);
    // Revoked mid-run: renewed through Keystone, once.
    let out = revoked_mid_run(swift, &env);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(out.stdout == expected_day);
    assert!(!text(&out).1.contains(PASSWORD));
    assert_eq!(logins.load(Ordering::SeqCst), 3, "one login, one renewal");
    // A wrong password: one line naming what to check.
    let wrong = "Wr0ng-Pw-55";
    let mut bad = env.clone();
    bad[2].1 = wrong.into();
    let out = run(&[&object, "unfiltered"], &bad, &[wrong, PASSWORD]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out).1,
        format!(
            "flowtuple-series: http://127.0.0.1:{port}/v3/auth/tokens: authentication failed \
             (Keystone answered 401 Unauthorized); check OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME \
             and the domain ids (OS_USER_DOMAIN_ID, OS_PROJECT_DOMAIN_ID)\n"
        )
    );
}
