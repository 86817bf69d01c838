//! Issue 20: what an operator can trust in flowtuple-series' runs: one
//! block per timestamp in a run, the tally and `-q`, `--stats` with
//! `--merge-repeated`, the temporary directory checked first, an honest
//! Kafka deadline, usage errors, and geo tags that are safe Graphite keys.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{bin, output, tally, text};
use telescope_test_support::v3::{write_v3, V3};

/// A v3 record of one packet of 40 bytes, from `src` to 10.0.0.9, AS 64500.
fn rec(time: u32, src: u32, netacq: [&str; 2], spoofed: u8) -> V3 {
    V3 {
        src_port: 1234,
        is_spoofed: spoofed,
        geo: ["EU".into(), "FR".into(), netacq[0].into(), netacq[1].into()],
        prefix2asn: 64500,
        ..V3::syn(time, src, 0x0a00_0009)
    }
}

/// Writes `records` as the Avro file `name` in `dir`; returns its path.
fn file(dir: &Path, name: &str, records: &[V3]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, write_v3(records)).unwrap();
    path.to_string_lossy().into_owned()
}

fn run(args: &[&str]) -> (String, String, i32) {
    let out = output(bin("flowtuple-series").args(args));
    let (o, e) = text(&out);
    (o, e, out.status.code().unwrap_or(-1))
}

/// Three files: `a` with minutes 60 and 120, `b` with 120 (again) and 180,
/// `c` with b's minute 180 only; `spoofed` with minute 60 of spoofed
/// records only (nothing of it passes `nonspoofed`).
fn files(dir: &Path) -> [String; 4] {
    let eu = ["EU", "FR"];
    [
        file(dir, "a.avro", &[rec(60, 1, eu, 0), rec(120, 2, eu, 0)]),
        file(dir, "b.avro", &[rec(120, 3, eu, 0), rec(180, 4, eu, 0)]),
        file(dir, "c.avro", &[rec(180, 4, eu, 0)]),
        file(dir, "spoofed.avro", &[rec(60, 5, eu, 1)]),
    ]
}

/// The message of an input that repeats a timestamp printed before.
fn repeat_error(file: &str, time: u32, more: u32, earlier: usize, earlier_file: &str) -> String {
    let more = match more {
        0 => String::new(),
        n => format!(" (and {n} more of its timestamps)"),
    };
    format!(
        "flowtuple-series: {file}: timestamp {time}{more} was already printed from input \
         {earlier} ({earlier_file}); its interval is not printed again, the file's other \
         intervals are (a run gives one block per timestamp; --merge-repeated merges \
         repeated timestamps into one interval)\n"
    )
}

/// A timestamp printed by one file is an error for a later file that holds
/// it again (exit 1, naming --merge-repeated); the later file's other
/// intervals print as if the repeated one were not in it. In every format,
/// with the report rules' dense keys too (an unprinted interval carries
/// no keys), one or two threads.
#[test]
fn a_timestamp_is_printed_once_per_run_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c, _] = files(dir.path());
    let formats: [&[&str]; 6] = [
        &[],
        &["--format", "timeseries"],
        &["--format", "jsonl"],
        &["--format", "csv"],
        &["--compat", "report"],
        &["--compat", "report", "--format", "csv"],
    ];
    for format in formats {
        for j in ["-j1", "-j2"] {
            let args = |second: &str| -> Vec<String> {
                let mut v: Vec<String> = ["--mode", "unfiltered", j].map(String::from).to_vec();
                v.extend(format.iter().map(|s| s.to_string()));
                v.extend([a.clone(), second.to_string()]);
                v
            };
            let with_b = args(&b);
            let with_c = args(&c);
            let (out, err, code) = run(&with_b.iter().map(String::as_str).collect::<Vec<_>>());
            let (want, want_err, want_code) =
                run(&with_c.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!((want_err, want_code), (tally(2, 2, 0), 0));
            assert!(!want.is_empty());
            assert!(out == want, "{format:?} {j}: {out}\n---\n{want}");
            assert_eq!(code, 1, "{format:?}");
            let msg = repeat_error(&b, 120, 0, 1, &a);
            assert_eq!(err, format!("{msg}{}", tally(2, 1, 1)), "{format:?} {j}");
        }
    }
}

/// The same file named twice prints once: the second time, every one of
/// its timestamps is a repeat.
#[test]
fn the_same_file_named_twice_prints_once() {
    let dir = tempfile::tempdir().unwrap();
    let [a, ..] = files(dir.path());
    let (once, _, _) = run(&[&a, "unfiltered"]);
    let (out, err, code) = run(&["--mode", "unfiltered", &a, &a]);
    assert_eq!((out, code), (once, 1));
    assert_eq!(
        err,
        format!("{}{}", repeat_error(&a, 60, 1, 1, &a), tally(2, 1, 1))
    );
}

/// An interval whose records are all filtered out prints only a zero
/// summary, but its minute was read and counted: a later file that holds
/// the same minute would be counted apart from it, so it is refused. The
/// rule is the same in every format (a timestamp is taken when its
/// interval is handed to the output, whatever the format writes of it).
#[test]
fn an_interval_that_prints_no_line_still_takes_its_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let [a, _, _, spoofed] = files(dir.path());
    let (alone, err, code) = run(&[&spoofed, "nonspoofed"]);
    let zeros = "60 summary overall packets 0\n60 summary overall bytes 0\n\
                 60 summary overall uniq_src_ips 0\n60 summary overall uniq_dst_ips 0\n\
                 60 summary overall uniq_src_asns 0\n";
    assert_eq!((alone.as_str(), err.as_str(), code), (zeros, "", 0));
    // a's minute 120 alone.
    let only_120 = file(dir.path(), "a120.avro", &[rec(120, 2, ["EU", "FR"], 0)]);
    for format in ["seed", "timeseries", "jsonl", "csv"] {
        let (want, want_err, _) = run(&[
            "--mode",
            "nonspoofed",
            "--format",
            format,
            &spoofed,
            &only_120,
        ]);
        assert_eq!(want_err, tally(2, 2, 0));
        let (out, err, code) = run(&["--mode", "nonspoofed", "--format", format, &spoofed, &a]);
        assert_eq!((out, code), (want, 1), "{format}");
        assert_eq!(
            err,
            format!("{}{}", repeat_error(&a, 60, 0, 1, &spoofed), tally(2, 1, 1))
        );
    }
}

/// The tally ends every run of several files, on stderr; -q leaves it
/// out (and progress), errors stay; one file has no tally.
#[test]
fn the_tally_ends_multi_file_runs_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let [a, _, c, _] = files(dir.path());
    let bad = file(dir.path(), "bad.avro", &[]);
    std::fs::write(&bad, b"not avro").unwrap();
    let (out, err, code) = run(&["--mode", "unfiltered", &a, &c]);
    assert_eq!((err, code), (tally(2, 2, 0), 0));
    let (quiet, err, code) = run(&["--mode", "unfiltered", "-q", &a, &c]);
    assert_eq!((quiet, err.as_str(), code), (out, "", 0));
    let (_, err, code) = run(&["--mode", "unfiltered", &a, &bad, &c]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with(&format!("flowtuple-series: {bad}: not an Avro")));
    assert_eq!(format!("{}\n", lines[1]), tally(3, 2, 1));
    for q in ["-q", "--quiet"] {
        let (_, quiet_err, code) = run(&["--mode", "unfiltered", q, &a, &bad, &c]);
        assert_eq!((quiet_err, code), (format!("{}\n", lines[0]), 1));
    }
    let (_, err, code) = run(&["--mode", "unfiltered", &a]);
    assert_eq!((err.as_str(), code), ("", 0));
    // --merge-repeated too.
    let (_, err, code) = run(&["--mode", "unfiltered", "--merge-repeated", &a, &bad]);
    assert_eq!(code, 1);
    assert!(err.ends_with(&tally(2, 1, 1)), "{err}");
}

/// --stats with --merge-repeated: a line per file (what it added), and one
/// for the merged intervals printed at the end.
#[test]
fn stats_are_printed_when_merging() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, ..] = files(dir.path());
    let (out, err, code) = run(&[
        "--mode",
        "unfiltered",
        "--merge-repeated",
        "--stats",
        &a,
        &b,
    ]);
    assert_eq!(code, 0, "{err}");
    // Minutes 60, 120 (two records merged), 180.
    let times: Vec<&str> = out.lines().map(|l| l.split(' ').next().unwrap()).collect();
    let mut distinct = times.clone();
    distinct.dedup();
    assert_eq!(distinct, ["60", "120", "180"]);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    for (line, f) in [(0, &a), (1, &b)] {
        let want =
            format!("flowtuple-series: stats: {f}: records read 2, counted 2, spilled 0 bytes, ");
        assert!(lines[line].starts_with(&want), "{err}");
        assert!(
            lines[line].ends_with(" s (merged: its intervals are printed at the end)"),
            "{err}"
        );
    }
    assert!(
        lines[2].starts_with("flowtuple-series: stats: merged: intervals 3, spilled 0 bytes, "),
        "{err}"
    );
    assert_eq!(format!("{}\n", lines[3]), tally(2, 2, 0));
}

/// A port nothing listens on: bound, then closed.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// --kafka-retry-secs N retries for N seconds, not less, and not much more,
/// whether the broker refuses connections or accepts and never answers;
/// the message says N and the cause once.
#[test]
fn the_kafka_retry_deadline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let [a, _, c, _] = files(dir.path());
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let refused = closed_port();
    let cases = [
        (
            refused,
            format!(
                "Connection error: error connecting to broker \"127.0.0.1:{refused}\": IO Error: \
                 Connection refused (os error 111)"
            ),
        ),
        (silent_port, "no answer".to_string()),
    ];
    for (port, cause) in &cases {
        for secs in [1u64, 2] {
            let broker = format!("127.0.0.1:{port}");
            let started = Instant::now();
            let (out, err, code) = run(&[
                "--mode",
                "unfiltered",
                "--kafka-brokers",
                &broker,
                "--kafka-channel",
                "test",
                "--kafka-retry-secs",
                &secs.to_string(),
                &a,
                &c,
            ]);
            let took = started.elapsed();
            assert_eq!((out.as_str(), code), ("", 1), "{err}");
            let wanted = Duration::from_secs(secs);
            assert!(
                took >= wanted && took < wanted + Duration::from_millis(700),
                "{broker}: --kafka-retry-secs {secs} took {took:?}"
            );
            let want = format!(
                "flowtuple-series: cannot reach Kafka broker(s) {broker} (gave up after retrying \
                 for {secs} s: {cause}); nothing was published\n\
                 flowtuple-series: 2 files: 0 ok, 0 failed, 2 not read (the run stopped)\n"
            );
            assert_eq!(err, want);
        }
    }
    drop(silent);
}

/// The geo tags of `geo_fixture`, and what each counts as.
const GEO_TAGS: [([&str; 2], [&str; 2]); 7] = [
    (["E.U", "F/R"], ["??", "??"]),
    (["EU", "FR"], ["EU", "FR"]),
    ([".."; 2], ["??", "??"]),
    (["E\u{a0}U", "x;y=z"], ["??", "??"]),
    (["\u{3000}", "a/b"], ["??", "??"]),
    (["\u{2028}", "F\tR"], ["??", "??"]),
    (["é", "Éz"], ["é", "Éz"]),
];

/// Geo tags holding Unicode whitespace, a control character, `.`, `/` or
/// `;` are counted and printed as `??` in every format: they would break
/// a Graphite key (`..` would write its continent's metric, `;` makes a
/// tagged series, whitespace ends carbon's metric name). Expected lines
/// worked out by hand: seven records of one packet of 40 bytes from seven
/// sources to one destination, one ASN; five of them `??`.
#[test]
fn geo_tags_that_break_a_graphite_key_count_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<V3> = GEO_TAGS
        .iter()
        .enumerate()
        .map(|(i, (tags, _))| rec(60, 100 + i as u32, *tags, 0))
        .collect();
    let f = file(dir.path(), "geo.avro", &records);
    let geo = |out: &str, needle: &str| -> String {
        out.lines()
            .filter(|l| l.contains(needle))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let (out, err, code) = run(&[&f, "unfiltered-ipmeta"]);
    assert_eq!((err.as_str(), code), ("", 0));
    let seed = "\
60 netacq_continents ?? packets 5
60 netacq_continents ?? bytes 200
60 netacq_continents ?? uniq_src_ips 5
60 netacq_continents ?? uniq_dst_ips 1
60 netacq_continents ?? uniq_src_asns 1
60 netacq_continents EU packets 1
60 netacq_continents EU bytes 40
60 netacq_continents EU uniq_src_ips 1
60 netacq_continents EU uniq_dst_ips 1
60 netacq_continents EU uniq_src_asns 1
60 netacq_continents é packets 1
60 netacq_continents é bytes 40
60 netacq_continents é uniq_src_ips 1
60 netacq_continents é uniq_dst_ips 1
60 netacq_continents é uniq_src_asns 1
60 netacq_countries ?? packets 5
60 netacq_countries ?? bytes 200
60 netacq_countries ?? uniq_src_ips 5
60 netacq_countries ?? uniq_dst_ips 1
60 netacq_countries ?? uniq_src_asns 1
60 netacq_countries FR packets 1
60 netacq_countries FR bytes 40
60 netacq_countries FR uniq_src_ips 1
60 netacq_countries FR uniq_dst_ips 1
60 netacq_countries FR uniq_src_asns 1
60 netacq_countries Éz packets 1
60 netacq_countries Éz bytes 40
60 netacq_countries Éz uniq_src_ips 1
60 netacq_countries Éz uniq_dst_ips 1
60 netacq_countries Éz uniq_src_asns 1
";
    assert_eq!(geo(&out, " netacq_"), seed);
    let (out, _, _) = run(&[&f, "unfiltered-ipmeta", "--format", "timeseries"]);
    let mut timeseries = String::new();
    for key in ["??", "EU", "é", "??.??", "EU.FR", "é.Éz"] {
        let (n, bytes) = if key.starts_with("??") {
            (5, 200)
        } else {
            (1, 40)
        };
        for (counter, v) in [
            ("uniq_src_ip", n),
            ("uniq_dst_ip", 1),
            ("uniq_src_asn", 1),
            ("pkt_cnt", n),
            ("ip_len", bytes),
        ] {
            timeseries += &format!("flowtuple.geo.netacuity.{key}.{counter} {v} 60\n");
        }
    }
    assert_eq!(geo(&out, ".geo."), timeseries);
    let (out, _, _) = run(&[&f, "unfiltered-ipmeta", "--format", "csv"]);
    let mut csv = String::new();
    let mut jsonl = String::new();
    for class in ["netacq_continents", "netacq_countries"] {
        let ks = match class {
            "netacq_continents" => ["??", "EU", "é"],
            _ => ["??", "FR", "Éz"],
        };
        for key in ks {
            let (n, bytes) = if key == "??" { (5, 200) } else { (1, 40) };
            csv += &format!("60,{class},{key},{n},{bytes},{n},1,1\n");
            jsonl += &format!(
                "{{\"time\":60,\"class\":\"{class}\",\"key\":\"{key}\",\"packets\":{n},\
                 \"bytes\":{bytes},\"uniq_src_ips\":{n},\"uniq_dst_ips\":1,\"uniq_src_asns\":1}}\n"
            );
        }
    }
    assert_eq!(geo(&out, ",netacq_"), csv);
    let (out, _, _) = run(&[&f, "unfiltered-ipmeta", "--format", "jsonl"]);
    assert_eq!(geo(&out, "\"netacq_"), jsonl);
    // Report rules: `??` counts under no geo key (its dense continent and
    // country keys stay zero), so none of the five does; no key holds a
    // bad character.
    let (out, _, _) = run(&[&f, "unfiltered-ipmeta", "--compat", "report"]);
    let mut unknown = 0;
    for line in out.lines().filter(|l| l.contains(" netacq_")) {
        let fields: Vec<&str> = line.split(' ').collect();
        assert!(
            !fields[2].contains(['.', '/', ';']) && !fields[2].contains(char::is_whitespace),
            "{line}"
        );
        if fields[2] == "??" {
            assert_eq!(fields[4], "0", "{line}");
            unknown += 1;
        }
    }
    assert_eq!(
        unknown, 10,
        "the dense `??` continent and country, five counters each"
    );
}

/// Usage errors name FILE and MODE (no `<ARGS>`), hint at swapped
/// positionals, and leave out clap's tip to pass `-x` as a value.
#[test]
fn usage_errors_name_file_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let [a, ..] = files(dir.path());
    let usage = "Usage: flowtuple-series [OPTIONS] <FILE> <MODE>\n       \
                 flowtuple-series [OPTIONS] --mode <MODE> <FILE>...\n\n\
                 For more information, try '--help'.\n";
    let (_, err, code) = run(&[]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "error: no <FILE> and <MODE> given (valid modes: unfiltered, unfiltered-ipmeta, \
             nonspoofed, unrouted-nonspoofed)\n\n{usage}"
        )
    );
    let (_, err, code) = run(&["--mode", "unfiltered"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!("error: --mode <MODE> needs at least one <FILE>\n\n{usage}")
    );
    let (_, err, code) = run(&["nonspoofed", &a]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "error: unknown mode `{a}` (valid modes: unfiltered, unfiltered-ipmeta, nonspoofed, \
             unrouted-nonspoofed)\n\n  tip: FILE comes first, then MODE: `flowtuple-series {a} \
             nonspoofed` (or `--mode nonspoofed {a}`)\n\n{usage}"
        )
    );
    let (_, err, code) = run(&["-x", &a, "unfiltered"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!("error: unexpected argument '-x' found\n\n{usage}")
    );
    // A file of that name exists: then the tip is right.
    std::fs::copy(&a, dir.path().join("-x")).unwrap();
    let out = output(bin("flowtuple-series").current_dir(dir.path()).args([
        "--mode",
        "unfiltered",
        "-x",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("tip: to pass '-x' as a value, use '-- -x'"),
        "{}",
        text(&out).1
    );
    // netprofile: no tip either; DATA_ROOT is required, and its help says
    // so.
    let out = output(bin("netprofile").args(["-x", "/nonexistent"]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out).1,
        "error: unexpected argument '-x' found\n\nUsage: netprofile [OPTIONS] <DATA_ROOT>\n       \
         netprofile --completions <SHELL> | --man\n\nFor more information, try '--help'.\n"
    );
    let out = output(bin("netprofile").arg("-h"));
    let help = text(&out).0;
    assert!(help.contains("\n  <DATA_ROOT>  "), "{help}");
    assert!(!help.contains("[DATA_ROOT]"), "{help}");
}

/// The error cases issue 20 found, of both tools, said plainly: each cause
/// once, no Rust debug form, and no warning about printed output when
/// nothing was printed. (Every other error case the tests run is checked
/// the same way: their run helpers go through `util::output`.)
#[test]
fn messages_say_each_cause_once_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let small = |ext: &str| crate::flowtuple::fixture(&format!("small-deflate.avro{ext}"));
    let cut = |ext: &str, keep: usize| -> String {
        let bytes = std::fs::read(small(ext)).unwrap();
        let path = dir.path().join(format!("cut{keep}.avro{ext}"));
        std::fs::write(&path, &bytes[..keep.min(bytes.len() / 2)]).unwrap();
        path.to_string_lossy().into_owned()
    };
    let d = dir.path().to_string_lossy().into_owned();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![d.clone(), "unfiltered".into()],
            format!("flowtuple-series: {d}: read error at byte offset 0: Is a directory (os error 21)\n"),
        ),
        (
            vec![cut(".zst", 300), "unfiltered".into()],
            format!(
                "flowtuple-series: {}: zstd: frame 1 at compressed byte 0: the stream ends inside \
                 a block (cut short) (found at byte offset 0 of the Avro stream)\n",
                cut(".zst", 300)
            ),
        ),
        (
            vec![cut(".bz2", 200), "unfiltered".into()],
            format!(
                "flowtuple-series: {}: bzip2: the stream ends early (found at byte offset 0 of \
                 the Avro stream)\n",
                cut(".bz2", 200)
            ),
        ),
        (
            vec![
                "--merge-repeated".into(),
                "--mode".into(),
                "unfiltered".into(),
                d.clone(),
            ],
            format!("flowtuple-series: {d}: read error at byte offset 0: Is a directory (os error 21)\n"),
        ),
    ];
    for (args, want) in &cases {
        let out = output(bin("flowtuple-series").args(args));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&out), (String::new(), want.clone()), "{args:?}");
    }
    // netprofile: a summary that cannot be written, a data.csv that is a
    // directory.
    let root = crate::util::temp_copy("netprofile/root");
    let summary = dir.path().join("no-such-dir/summary.json");
    let out = output(
        bin("netprofile")
            .env("NETPROFILE_NOW", "2026-01-02T03:04:05.123456")
            .arg("--summary-json")
            .arg(&summary)
            .arg(root.path()),
    );
    let err = text(&out).1;
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let tag = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("data.csv").is_file())
        .unwrap();
    std::fs::remove_file(tag.join("data.csv")).unwrap();
    std::fs::create_dir(tag.join("data.csv")).unwrap();
    let out = output(
        bin("netprofile")
            .env("NETPROFILE_NOW", "2026-01-02T03:04:05.123456")
            .arg(root.path()),
    );
    let err = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The cause once: netprofile names a data.csv that is not a regular
    // file in its own words, without the OS error after it.
    assert_eq!(
        err.to_lowercase().matches("is a directory").count(),
        1,
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
}
