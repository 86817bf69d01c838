//! Resets, stalls, cuts and changed objects between the tool and the
//! server (a proxy in between), for S3 (object_store) and plain http
//! (reqwest), which share the resume loop.

use std::time::{Duration, Instant};

use super::proxy::{Fault, Proxy};
use super::servers::S3;
use super::{assert_same, fixture, local, run};
use crate::util::text;
use telescope_test_support::v3::{write_v3, V3};

/// A v3 object of about 2 MB (60,000 records over two minutes), and the
/// path of a local copy.
pub(super) fn big_object(dir: &std::path::Path) -> (Vec<u8>, String) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let geo = ["??", "NA", "US", "EU", "DE"];
    let records: Vec<V3> = (0..60_000u32)
        .map(|i| V3 {
            time: 1704067200 + 60 * (i / 30_000),
            src_ip: next() as u32,
            dst_ip: 0x2c00_0000 | (next() as u32 & 0xff_ffff),
            src_port: next() as u16,
            dst_port: (next() % 1024) as u16,
            protocol: [6, 17, 1][(next() % 3) as usize],
            ttl: next() as u8,
            tcp_flags: next() as u8,
            ip_len: 40 + (next() % 1400) as u16,
            tcp_synlen: 0,
            tcp_synwinlen: 0,
            packet_cnt: 1 + (next() % 5) as u32,
            is_spoofed: (next() % 2) as u8,
            is_masscan: 0,
            geo: std::array::from_fn(|_| geo[(next() % 5) as usize].to_string()),
            prefix2asn: (next() % 70_000) as u32,
        })
        .collect();
    let bytes = write_v3(&records);
    let path = dir.join("big.avro");
    std::fs::write(&path, &bytes).unwrap();
    (bytes, path.to_string_lossy().into_owned())
}

#[test]
fn a_reset_and_a_stall_are_resumed_and_the_output_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (big, big_path) = big_object(dir.path());
    assert!(big.len() > 1_500_000, "{}", big.len());
    let expected = local(&[&big_path, "unfiltered"]);
    let s3 = S3::start(true);
    s3.put_file("stardust", "big.avro", &big);
    let public = S3::start(false);
    public.put_file("pub", "big.avro", &big);
    let args = ["--remote-stall-secs", "1", "--remote-retry-secs", "60"];
    // The first connection is the look at the header (layout detection).
    let faults = vec![Fault::Reset, Fault::Stall(Duration::from_secs(4))];
    let proxy = Proxy::skipping(s3.port, 1, 600_000, faults.clone());
    let out = run(
        &[&args[..], &["s3://stardust/big.avro", "unfiltered"]].concat(),
        &s3.env_via(proxy.port),
        &[],
    );
    assert_same(&out, &expected);
    assert_eq!(proxy.fired(), 2, "a reset and a stall");
    let proxy = Proxy::skipping(public.port, 1, 600_000, faults);
    let url = format!("http://127.0.0.1:{}/pub/big.avro", proxy.port);
    let out = run(&[&args[..], &[&url, "unfiltered"]].concat(), &[], &[]);
    assert_same(&out, &expected);
    assert_eq!(proxy.fired(), 2, "a reset and a stall");
}

#[test]
fn a_permanent_cut_fails_that_object_after_the_retry_time_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (big, _) = big_object(dir.path());
    let s3 = S3::start(true);
    s3.put_file("stardust", "big.avro", &big);
    let small = super::fixture_path("minute1.avro");
    let expected = local(&["--mode", "unfiltered", &small]);
    let proxy = Proxy::cutting(s3.port, 1, 200_000);
    let started = Instant::now();
    let out = run(
        &[
            "--remote-stall-secs",
            "1",
            "--remote-retry-secs",
            "3",
            "--mode",
            "unfiltered",
            "s3://stardust/big.avro",
            &small,
        ],
        &s3.env_via(proxy.port),
        &[],
    );
    let elapsed = started.elapsed();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(out.stdout, expected, "the other file goes on");
    assert_eq!(super::error_lines(&stderr).len(), 1, "{stderr}");
    assert!(
        stderr.starts_with("flowtuple-series: s3://stardust/big.avro: ")
            && stderr.contains("read failed at byte ")
            && stderr.contains("(gave up after retrying for 3 s: --remote-retry-secs)"),
        "{stderr}"
    );
    // The byte reached is before the cut (a reset discards what the
    // client had not read yet, so how far before varies).
    let at: u64 = stderr
        .split("read failed at byte ")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..200_000).contains(&at), "{at}");
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(40), "{elapsed:?}");
    assert!(proxy.fired() >= 2, "retried");
}

#[test]
fn an_object_that_changes_between_two_requests_fails_instead_of_splicing() {
    let dir = tempfile::tempdir().unwrap();
    let (big, _) = big_object(dir.path());
    // Same length, one byte changed near the end (only the ETag tells), and
    // a shorter object (the resume's range is past its end).
    let mut same_length = big.clone();
    let at = same_length.len() - 100;
    same_length[at] ^= 0xff;
    for replacement in [same_length, fixture("minutes.avro")] {
        let s3 = S3::start(true);
        s3.put_file("stardust", "big.avro", &big);
        let proxy = Proxy::skipping(
            s3.port,
            1,
            300_000,
            vec![Fault::Stall(Duration::from_secs(3))],
        );
        let env = s3.env_via(proxy.port);
        let child = std::thread::spawn(move || {
            run(
                &[
                    "--remote-stall-secs",
                    "1",
                    "s3://stardust/big.avro",
                    "unfiltered",
                ],
                &env,
                &[],
            )
        });
        // Replace the object while the read is stalled.
        let start = Instant::now();
        while proxy.fired() == 0 {
            assert!(start.elapsed() < Duration::from_secs(60), "no stall");
            std::thread::sleep(Duration::from_millis(5));
        }
        s3.put_file("stardust", "big.avro", &replacement);
        let out = child.join().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stdout.is_empty(),
            "no interval of a spliced object: {stdout}"
        );
        assert!(
            stderr.starts_with("flowtuple-series: s3://stardust/big.avro: ")
                && stderr.contains("the object changed while it was read (at byte "),
            "{stderr}"
        );
    }
}

#[test]
fn a_listing_cut_short_is_listed_again() {
    let s3 = S3::start(true);
    for i in 0..3 {
        s3.put_file(
            "stardust",
            &format!("day/m{i}.avro"),
            &fixture(&format!("minute{i}.avro")),
        );
    }
    let paths: Vec<String> = (0..3)
        .map(|i| super::fixture_path(&format!("minute{i}.avro")))
        .collect();
    let expected = local(&["--mode", "unfiltered", &paths[0], &paths[1], &paths[2]]);
    // The first connection is the listing's: reset after its first bytes.
    let proxy = Proxy::start(s3.port, 100, vec![Fault::Reset]);
    let out = run(
        &["--mode", "unfiltered", "s3://stardust/day/"],
        &s3.env_via(proxy.port),
        &[],
    );
    assert_same(&out, &expected);
    assert_eq!(proxy.fired(), 1);
}
