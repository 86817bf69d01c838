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
