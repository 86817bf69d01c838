//! Remote inputs (`s3://`, `swift://`, `http://`) against real servers on
//! 127.0.0.1: s3s-fs and OpenStack Swift, with a fault-injecting proxy.
//! Every output of every run is searched for the secrets.

mod faults;
mod proxy;
mod s3;
mod servers;
mod swift;

use std::process::Output;

use crate::util::{bin, testdata, text};
use telescope_test_support::v3::{write_v3, V3};

/// Secrets that must never be printed.
const SECRETS: [&str; 2] = [servers::S3_SECRET, servers::SWIFT_KEY];

/// Runs flowtuple-series with `env` (and no other AWS_/OS_/ST_ variable),
/// checking that no secret (nor any of `more_secrets`) is in its output.
fn run(args: &[&str], env: &[(String, String)], more_secrets: &[&str]) -> Output {
    let mut cmd = bin("flowtuple-series");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if ["AWS_", "OS_", "ST_"].iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(&*k);
        }
    }
    let out = cmd
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    for s in SECRETS.iter().chain(more_secrets) {
        assert!(
            !stdout.contains(s) && !stderr.contains(s),
            "a secret was printed: {stderr}"
        );
    }
    out
}

/// The output of a run on local files (must succeed).
fn local(args: &[&str]) -> Vec<u8> {
    let out = bin("flowtuple-series").args(args).output().unwrap();
    assert!(out.status.success(), "local run: {}", text(&out).1);
    assert!(!out.stdout.is_empty());
    out.stdout
}

/// `testdata/flowtuple/<name>`'s bytes.
fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(testdata(&format!("flowtuple/{name}"))).unwrap()
}

/// `testdata/flowtuple/<name>` as a path argument.
fn fixture_path(name: &str) -> String {
    testdata(&format!("flowtuple/{name}"))
        .to_string_lossy()
        .into_owned()
}

/// Asserts a run succeeded with exactly `expected` on stdout.
fn assert_same(out: &Output, expected: &[u8]) {
    let (stdout, stderr) = text(out);
    assert!(out.status.success(), "failed: {stderr}");
    assert!(
        out.stdout == expected,
        "output differs from the local run:\n{stdout}\n---\n{}",
        String::from_utf8_lossy(expected)
    );
}

/// A small v3 object of its own minute (`1704067200 + 60 * i`), so that a
/// run over many of them never repeats a timestamp; its records differ
/// with `i`.
fn minute_object(i: usize) -> Vec<u8> {
    let time = 1_704_067_200 + 60 * i as u32;
    let records: Vec<V3> = (0..3u32)
        .map(|k| V3 {
            time,
            src_ip: 0x0a00_0000 + (i as u32 * 7 + k) % 1000,
            dst_ip: 0x2c00_0001 + k,
            src_port: 1000 + k as u16,
            dst_port: [23, 80, 443][k as usize],
            protocol: [6, 17, 6][k as usize],
            ttl: 64,
            tcp_flags: 2,
            ip_len: 40 + k as u16,
            tcp_synlen: 0,
            tcp_synwinlen: 0,
            packet_cnt: 1 + (i as u32 + k) % 5,
            is_spoofed: 0,
            is_masscan: 0,
            geo: ["EU".into(), "FR".into(), "NA".into(), "US".into()],
            prefix2asn: 64500 + k,
        })
        .collect();
    write_v3(&records)
}

/// Writes `bytes` as `dir/name`; returns the path.
fn write_local(dir: &std::path::Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

/// stderr's lines without the tally a run of several inputs ends with
/// (`flowtuple-series: N files: K ok, M failed`).
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !(l.contains(" files: ") && l.contains(" ok, ") && l.ends_with(" failed")))
        .collect()
}

/// The `--stats` lines of a run's stderr.
fn stats_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("flowtuple-series: stats: "))
        .collect()
}
