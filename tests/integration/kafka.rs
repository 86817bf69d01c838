//! flowtuple-series publishing to a real Kafka-compatible broker (tansu, see
//! `broker.rs`), read back as the operator's check tool `tsk_consume` reads
//! it (`telescope_tools::tsk_consume`).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use telescope_tools::tsk_consume::{ascii, fetch_all, Message};

use crate::broker::{create_topic, free_port, Broker, Proxy};
use crate::util::{bin, tally, testdata, text, Checked};

fn fixture(name: &str) -> String {
    testdata(&format!("flowtuple/{name}"))
        .to_string_lossy()
        .into_owned()
}

/// `flowtuple-series` with `args` and the Kafka options for `addr`.
fn publish(addr: &str, channel: &str, args: &[&str]) -> Command {
    let mut cmd = bin("flowtuple-series");
    cmd.args(args)
        .args(["--kafka-brokers", addr, "--kafka-channel", channel])
        .args(["--kafka-retry-secs", "2"]);
    cmd
}

fn run(mut cmd: Command) -> (String, String, i32) {
    let out: Output = crate::util::output(&mut cmd);
    let (o, e) = text(&out);
    (o, e, out.status.code().unwrap_or(-1))
}

/// `--format timeseries` lines regrouped as the check tool prints them:
/// intervals in time order, each interval's lines in their order.
fn by_time(timeseries: &str) -> String {
    let mut groups: BTreeMap<u64, String> = BTreeMap::new();
    for line in timeseries.lines() {
        let time = line.rsplit(' ').next().unwrap().parse().unwrap();
        let g = groups.entry(time).or_default();
        g.push_str(line);
        g.push('\n');
    }
    groups.into_values().collect()
}

/// The interval times of a timeseries text, in first-seen order.
fn times(timeseries: &str) -> Vec<u32> {
    let mut v: Vec<u32> = Vec::new();
    for line in timeseries.lines() {
        let t = line.rsplit(' ').next().unwrap().parse().unwrap();
        if v.last() != Some(&t) {
            v.push(t);
        }
    }
    v
}

/// A TSK message written independently of the library, from the format
/// description: header, then (u16 key length, key, u64 value) per point.
fn encode_by_hand(time: u32, channel: &str, lines: &[&str]) -> Vec<u8> {
    let mut m = b"TSKBATCH".to_vec();
    m.push(0);
    m.extend_from_slice(&time.to_be_bytes());
    m.extend_from_slice(&(channel.len() as u16).to_be_bytes());
    m.extend_from_slice(channel.as_bytes());
    for line in lines {
        let mut f = line.split(' ');
        let (key, value) = (f.next().unwrap(), f.next().unwrap());
        m.extend_from_slice(&(key.len() as u16).to_be_bytes());
        m.extend_from_slice(key.as_bytes());
        m.extend_from_slice(&value.parse::<u64>().unwrap().to_be_bytes());
    }
    m
}

/// The golden timeseries output of the small fixture (computed by the
/// Python reference; `small-u64.avro` is `small` without interval
/// 1700000180, whose sums exceed u64) is what goes out: every key, value and
/// time, the message keys are the times, each interval on partition
/// (time/60) % 7, and each (small) interval is one message equal to a hand
/// encoding.
#[test]
fn kafka_published_series_read_back_equal_the_timeseries_output() {
    let broker = Broker::start();
    create_topic(&broker.addr, "tsk-production.chan-1", 7);
    let golden = std::fs::read_to_string(testdata(
        "flowtuple/expected/small.nonspoofed.timeseries.txt",
    ))
    .unwrap();
    let expected: String = golden
        .lines()
        .filter(|l| !l.ends_with(" 1700000180"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (out, err, code) = run(publish(
        &broker.addr,
        "chan-1",
        &[&fixture("small-u64.avro"), "nonspoofed"],
    ));
    assert_eq!((out.as_str(), err.as_str(), code), ("", "", 0));
    // The binary's own --format timeseries output is the golden one.
    let (printed, _, _) = run({
        let mut c = bin("flowtuple-series");
        c.args([
            &fixture("small-u64.avro"),
            "nonspoofed",
            "--format",
            "timeseries",
        ]);
        c
    });
    assert_eq!(printed, expected);

    let messages = fetch_all(&broker.addr, "tsk-production.chan-1").unwrap();
    let got = String::from_utf8(ascii(&messages, Some("chan-1")).unwrap()).unwrap();
    assert_eq!(got, by_time(&expected));

    let times = times(&expected);
    assert_eq!(times.len(), 5);
    assert_eq!(messages.len(), 5, "one message per small interval");
    for t in times {
        let m: Vec<&Message> = messages
            .iter()
            .filter(|m| m.key.as_deref() == Some(&t.to_be_bytes()[..]))
            .collect();
        assert_eq!(m.len(), 1, "interval {t}");
        assert_eq!(m[0].partition as u32, (t / 60) % 7, "interval {t}");
        let lines: Vec<&str> = expected
            .lines()
            .filter(|l| l.ends_with(&format!(" {t}")))
            .collect();
        assert_eq!(
            m[0].value,
            encode_by_hand(t, "chan-1", &lines),
            "interval {t}"
        );
    }
}

/// Keys made long with a long label: the small fixture's first interval
/// (375 points of about 2 KB) passes 512 KiB, so it is split, each message
/// but the last just past 512 KiB; the read-back is still the whole series.
#[test]
fn kafka_an_interval_over_512_kib_is_split() {
    let broker = Broker::start();
    create_topic(&broker.addr, "p.big", 3);
    let label = "L".repeat(2000);
    let args = [
        fixture("small-u64.avro"),
        "nonspoofed".to_string(),
        "--label".to_string(),
        label.clone(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = publish(&broker.addr, "big", &args);
    cmd.args(["--kafka-topic-prefix", "p"]);
    let (_, err, code) = run(cmd);
    assert_eq!((err.as_str(), code), ("", 0));
    let mut c = bin("flowtuple-series");
    c.args(&args).args(["--format", "timeseries"]);
    let (printed, _, _) = run(c);

    let messages = fetch_all(&broker.addr, "p.big").unwrap();
    let got = String::from_utf8(ascii(&messages, Some("big")).unwrap()).unwrap();
    assert_eq!(got, by_time(&printed));
    let first: Vec<&Message> = messages
        .iter()
        .filter(|m| m.key.as_deref() == Some(&0u32.to_be_bytes()[..]))
        .collect();
    // 375 points * (2 + ~2030 + 8) bytes = about 765 KB: two messages.
    assert_eq!(first.len(), 2);
    let header = 8 + 1 + 4 + 2 + 3;
    let point = |key_len: usize| 2 + key_len + 8;
    let last_key_len = |m: &Message| {
        let lines = tsk_lines(m);
        lines.last().unwrap().0.len()
    };
    assert!(first[0].value.len() > 512 * 1024);
    assert!(first[0].value.len() - point(last_key_len(first[0])) <= 512 * 1024);
    assert!(first[1].value.len() <= 512 * 1024);
    assert!(first[1].value.len() > header);
    assert!(first[0].offset < first[1].offset);
}

fn tsk_lines(m: &Message) -> Vec<(String, u64)> {
    telescope_core::flowtuple::format::tsk::Batch::parse(&m.value)
        .unwrap()
        .points
}

/// Through a byte-counting proxy: with snappy far fewer bytes go to the
/// broker than the messages hold, without compression more; both read
/// back the same series.
#[test]
fn kafka_compression_snappy_and_none() {
    let port = free_port();
    let proxy = Proxy::start(port);
    let broker = Broker::start_advertising(port, proxy.port);
    let via = format!("127.0.0.1:{}", proxy.port);
    create_topic(&via, "tsk-production.snappy", 1);
    create_topic(&via, "tsk-production.none", 1);
    let label = "x".repeat(500);
    let base = [
        fixture("small-u64.avro"),
        "unfiltered".to_string(),
        "--label".to_string(),
        label,
    ];
    let base: Vec<&str> = base.iter().map(String::as_str).collect();
    let mut sent = Vec::new();
    let mut payloads = Vec::new();
    for codec in ["snappy", "none"] {
        let before = proxy.sent();
        let mut cmd = publish(&via, codec, &base);
        cmd.args(["--kafka-compression", codec]);
        let (_, err, code) = run(cmd);
        assert_eq!((err.as_str(), code), ("", 0), "{codec}");
        sent.push(proxy.sent() - before);
        let messages = fetch_all(&via, &format!("tsk-production.{codec}")).unwrap();
        payloads.push(messages.iter().map(|m| m.value.len() as u64).sum::<u64>());
        let got = String::from_utf8(ascii(&messages, Some(codec)).unwrap()).unwrap();
        let mut c = bin("flowtuple-series");
        c.args(&base).args(["--format", "timeseries"]);
        assert_eq!(got, by_time(&run(c).0), "{codec}");
    }
    // The messages differ only in the channel name (`snappy`, `none`).
    assert_eq!(payloads[0], payloads[1] + 2 * 5);
    assert!(sent[1] > payloads[1], "none: {sent:?} {payloads:?}");
    assert!(sent[0] * 5 < payloads[0], "snappy: {sent:?} {payloads:?}");
    drop(broker);
}

/// The broker dies after the first file's intervals were acknowledged:
/// the second file (a FIFO, fed only once the broker is gone, with other
/// timestamps) fails with an error naming the broker, the first interval
/// not published and the last acknowledged one; exit status 1; the tally
/// counts it failed.
#[test]
fn kafka_stopped_broker_is_an_error_naming_the_first_unpublished_interval() {
    let mut broker = Broker::start();
    create_topic(&broker.addr, "tsk-production.c", 1);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("second.avro");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let mut cmd = publish(
        &broker.addr,
        "c",
        &["--mode", "nonspoofed", &fixture("small-u64.avro")],
    );
    cmd.arg(&fifo).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let start = Instant::now();
    loop {
        let n = fetch_all(&broker.addr, "tsk-production.c")
            .map(|m| m.len())
            .unwrap_or(0);
        if n == 5 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {n} messages"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    broker.stop();
    let data = std::fs::read(fixture("repro-deflate.avro")).unwrap();
    std::thread::spawn(move || {
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        let _ = w.write_all(&data);
    });
    let out = child.wait_with_output().checked();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "");
    let addr = &broker.addr;
    for want in [
        &format!("Kafka broker(s) {addr} did not acknowledge interval 1600000020"),
        "first interval not published: 1600000020",
        "5 earlier interval(s) were acknowledged, the last 1699999880",
    ] {
        assert!(stderr.contains(want), "{want:?} not in {stderr}");
    }
    assert!(stderr.ends_with(&tally(2, 1, 1)), "{stderr}");
}

/// The small fixture's interval 1700000180 sums to more than u64: an
/// error naming key and interval, exit 1; the intervals before it are
/// published, nothing after it.
#[test]
fn kafka_a_value_beyond_u64_is_an_error_naming_the_key() {
    let broker = Broker::start();
    create_topic(&broker.addr, "tsk-production.big", 2);
    let (_, err, code) = run(publish(
        &broker.addr,
        "big",
        &[&fixture("small-deflate.avro"), "nonspoofed"],
    ));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("interval 1700000180: value 4723159103210736107979 of key `flowtuple.overall.ip_len` does not fit"),
        "{err}"
    );
    let messages = fetch_all(&broker.addr, "tsk-production.big").unwrap();
    let mut keys: Vec<u32> = messages
        .iter()
        .map(|m| u32::from_be_bytes(m.key.as_deref().unwrap().try_into().unwrap()))
        .collect();
    keys.sort();
    assert_eq!(keys, [0, 1700000000, 1700000060, 1700000120]);
}

/// Nothing listens: the error names the broker, says nothing was
/// published, and the exit status is 1.
#[test]
fn kafka_unreachable_broker_is_an_error() {
    let addr = format!("127.0.0.1:{}", free_port());
    let start = Instant::now();
    let (out, err, code) = run(publish(
        &addr,
        "c",
        &[&fixture("small-null.avro"), "unfiltered"],
    ));
    assert!(start.elapsed() < Duration::from_secs(20), "bounded retries");
    assert_eq!((out.as_str(), code), ("", 1), "{err}");
    assert!(
        err.starts_with(&format!(
            "flowtuple-series: cannot reach Kafka broker(s) {addr}"
        )),
        "{err}"
    );
    assert!(err.contains("nothing was published"), "{err}");
}

/// A timestamp published from one file is not published again from a
/// later one (here the same file twice): that file is an error naming
/// --merge-repeated, exit status 1, and the topic holds each interval once.
#[test]
fn kafka_a_timestamp_is_published_once_per_run() {
    let broker = Broker::start();
    create_topic(&broker.addr, "tsk-production.once", 3);
    let small = fixture("small-u64.avro");
    let (out, err, code) = run(publish(
        &broker.addr,
        "once",
        &["--mode", "nonspoofed", &small, &small],
    ));
    assert_eq!((out.as_str(), code), ("", 1), "{err}");
    assert_eq!(
        err,
        format!(
            "flowtuple-series: {small}: timestamp 0 (and 4 more of its timestamps) was already \
             published from input 1 ({small}); its interval is not published again, the file's \
             other intervals are (a run gives one block per timestamp; --merge-repeated merges \
             repeated timestamps into one interval)\n{}",
            tally(2, 1, 1)
        )
    );
    let messages = fetch_all(&broker.addr, "tsk-production.once").unwrap();
    assert_eq!(messages.len(), 5, "each of the five intervals once");
}

/// A topic that does not exist is an error naming it.
#[test]
fn kafka_missing_topic_is_an_error() {
    let broker = Broker::start();
    let (_, err, code) = run(publish(
        &broker.addr,
        "nosuch",
        &[&fixture("small-null.avro"), "unfiltered"],
    ));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("topic `tsk-production.nosuch` does not exist"),
        "{err}"
    );
}

/// Under `--compat report` the dense and carried keys go out as they are
/// printed: the read-back equals the Python reference's timeseries golden
/// (label `unlabeled`, zeros included, keys of earlier intervals carried).
#[test]
fn kafka_report_rules_publish_the_dense_keys() {
    let broker = Broker::start();
    create_topic(&broker.addr, "tsk-production.report", 3);
    let expected = std::fs::read_to_string(testdata(
        "flowtuple/expected/report.unfiltered-ipmeta.report-sample30.timeseries.txt",
    ))
    .unwrap();
    let (out, err, code) = run(publish(
        &broker.addr,
        "report",
        &[
            &fixture("report.avro"),
            "unfiltered-ipmeta",
            "--compat",
            "report",
            "--src-ip-counting",
            "sample:30",
        ],
    ));
    assert_eq!((out.as_str(), err.as_str(), code), ("", "", 0));
    let messages = fetch_all(&broker.addr, "tsk-production.report").unwrap();
    let got = String::from_utf8(ascii(&messages, Some("report")).unwrap()).unwrap();
    assert_eq!(times(&expected).len(), 3);
    assert_eq!(got, by_time(&expected));
}

/// flowtuple4 input: Kafka carries exactly what `--format timeseries`
/// prints for it (no `ip_len`, the destination-network counter, no
/// source-port keys).
#[test]
fn kafka_flowtuple4_publishes_the_timeseries_points() {
    let broker = Broker::start();
    create_topic(&broker.addr, "tsk-production.ft4", 2);
    let args = [
        &fixture("ft4-v2-24.avro")[..],
        "unfiltered",
        "--dst-net",
        "24",
    ];
    let (printed, err, code) = run({
        let mut c = bin("flowtuple-series");
        c.args(args).args(["--format", "timeseries"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(printed.contains(".uniq_dst_net24 "), "{printed}");
    assert!(!printed.contains(".ip_len ") && !printed.contains("src_port"));
    let (out, err, code) = run(publish(&broker.addr, "ft4", &args));
    assert_eq!((out.as_str(), err.as_str(), code), ("", "", 0));
    let messages = fetch_all(&broker.addr, "tsk-production.ft4").unwrap();
    let got = String::from_utf8(ascii(&messages, Some("ft4")).unwrap()).unwrap();
    assert_eq!(got, by_time(&printed));
}

#[test]
fn kafka_usage_errors_exit_2() {
    let f = fixture("small-null.avro");
    for (args, want) in [
        ("--kafka-brokers h:1", "--kafka-channel"),
        ("--kafka-channel c", "--kafka-brokers"),
        (
            "--kafka-brokers h:1 --kafka-channel c --format csv",
            "--format",
        ),
        ("--kafka-brokers h:1 --kafka-channel a/b", "bad Kafka topic"),
        ("--kafka-brokers nohost --kafka-channel c", "HOST:PORT"),
        (
            "--kafka-brokers h:1 --kafka-channel c --merge-repeated",
            "--merge-repeated",
        ),
    ] {
        let args: Vec<&str> = [&f[..], "unfiltered"]
            .into_iter()
            .chain(args.split(' '))
            .collect();
        let (out, err, code) = run({
            let mut c = bin("flowtuple-series");
            c.args(&args);
            c
        });
        assert_eq!((out.as_str(), code), ("", 2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
