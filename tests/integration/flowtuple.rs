//! flowtuple-series end-to-end tests.
//!
//! Expected outputs in `testdata/flowtuple/expected/` were produced by an
//! independent Python implementation (`testdata/flowtuple/reference.py`,
//! cross-checked by an SQL one) from fixtures written with fastavro; see
//! `testdata/flowtuple/README.md`.

use std::io::Write;
use std::process::Stdio;

use crate::util::{bin, tally, testdata, text, Checked};

pub(crate) fn tsv(name: &str) -> Vec<Vec<String>> {
    let body = std::fs::read_to_string(testdata(&format!("flowtuple/expected/{name}"))).unwrap();
    body.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

pub(crate) fn run(args: &[&str]) -> (String, String, i32) {
    let out = crate::util::output(bin("flowtuple-series").args(args));
    let (o, e) = text(&out);
    (o, e, out.status.code().unwrap_or(-1))
}

pub(crate) fn fixture(name: &str) -> String {
    testdata(&format!("flowtuple/{name}"))
        .to_string_lossy()
        .into_owned()
}

/// Every case of CASES.tsv on every input of its stem (all codecs and
/// wrappers), with one and with two threads.
#[test]
fn golden_cases() {
    let inputs = tsv("INPUTS.tsv");
    let cases = tsv("CASES.tsv");
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut checked = 0;
    for case in &cases {
        let (expected_name, args) = (&case[0], &case[1]);
        let stem = expected_name.split('.').next().unwrap();
        let expected =
            std::fs::read_to_string(testdata(&format!("flowtuple/expected/{expected_name}")))
                .unwrap();
        for input in inputs.iter().filter(|i| i[0] == stem) {
            let want_ok = input[2] == "0";
            for threads in ["1", "2"] {
                let mut argv = vec![fixture(&input[1])];
                argv.extend(args.split(' ').map(str::to_string));
                argv.extend(["-j".to_string(), threads.to_string()]);
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let (out, err, code) = run(&argv);
                assert_eq!(
                    out, expected,
                    "{expected_name} from {} -j{threads}",
                    input[1]
                );
                assert_eq!(
                    code == 0,
                    want_ok,
                    "{expected_name} from {}: exit {code}, stderr {err}",
                    input[1]
                );
                if want_ok {
                    assert_eq!(err, "", "quiet on success");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn error_messages_name_file_offset_and_cause() {
    let cases: [(&str, &str, &str); 11] = [
        ("badasn.avro", "unfiltered", "badasn.avro: corrupt file: block 0 at byte offset 872: record 0 of the block: prefix2asn value 4294967296 is not a 32-bit AS number"),
        ("truncated.avro", "unfiltered", "truncated.avro: truncated file: block 2 at byte offset 1152: the file ends inside the block data (61 of 122 bytes present)"),
        ("badsync.avro", "unfiltered", "badsync.avro: corrupt file: block 1 at byte offset 1012: sync marker does not match the header's"),
        ("reappear.avro", "unfiltered", "reappear.avro: timestamp 10 reappears (block 0 at byte offset 872) after its interval was complete"),
        ("notavro.bin", "unfiltered", "notavro.bin: not an Avro object container file: it starts with"),
        ("empty.avro", "nonspoofed", "empty.avro: not an Avro object container file: the input is empty"),
        ("wrongschema-missing-src_ip.avro", "unfiltered", "field `src_ip` is missing from the writer schema (needed by mode unfiltered)"),
        ("wrongschema-type.avro", "unfiltered", "field `time` has type string, expected int or long"),
        ("small-old.avro", "nonspoofed", "field `is_spoofed` is missing from the writer schema (needed by mode nonspoofed)"),
        ("small-old.avro", "unrouted-nonspoofed", "field `is_spoofed` is missing from the writer schema (needed by mode unrouted-nonspoofed)"),
        ("does-not-exist.avro", "unfiltered", "does-not-exist.avro: cannot open:"),
    ];
    for (file, mode, want) in cases {
        let (_, err, code) = run(&[&fixture(file), mode]);
        assert_eq!(code, 1, "{file}: {err}");
        assert!(err.starts_with("flowtuple-series: "), "{file}: {err}");
        assert!(err.contains(want), "{file}: got {err:?}, want {want:?}");
        assert_eq!(err.lines().count(), 1, "{file}: one line: {err}");
    }
}

#[test]
fn usage_errors_exit_2_and_list_modes() {
    let small = fixture("small-null.avro");
    for args in [
        vec![small.as_str(), "spoofed"],
        vec![small.as_str()],
        vec![small.as_str(), "unfiltered", "extra"],
    ] {
        let (out, err, code) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "");
        assert!(
            err.contains("unfiltered, unfiltered-ipmeta, nonspoofed, unrouted-nonspoofed"),
            "{args:?}: {err}"
        );
    }
    for bad in [
        vec!["--tcp-dst-ports", "5-3"],
        vec!["--udp-src-ports", "65536"],
        vec!["--tcp-src-ports", "1,,2"],
        vec!["--src-ip-counting", "prefixagg:33"],
        vec!["--dst-ip-counting", "sample:0"],
        vec!["--format", "xml"],
        vec!["--format", "timeseries", "--label", "a b"],
        vec!["--mode", "bogus"],
        vec!["-j", "0"],
    ] {
        let mut args = bad.clone();
        args.extend([small.as_str(), "unfiltered"]);
        let (_, err, code) = run(&args);
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
    let (out, _, code) = run(&["--help"]);
    assert_eq!(code, 0);
    for needle in [
        "unrouted-nonspoofed",
        "EXIT STATUS",
        "prefixagg:N",
        "<time> <class> <key> <counter> <value>",
    ] {
        assert!(out.contains(needle), "--help lacks {needle}");
    }
}

/// Runs the tool with `args`, the fixture `input` on stdin; asserts success
/// and that stdout equals the expected file `expected`.
fn assert_stdin_run(args: &[&str], input: &str, expected: &str) {
    let data = std::fs::read(fixture(input)).unwrap();
    let mut child = bin("flowtuple-series")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().checked();
    assert!(out.status.success());
    let expected = std::fs::read(testdata(&format!("flowtuple/expected/{expected}"))).unwrap();
    assert_eq!(out.stdout, expected);
}

#[test]
fn stdin_is_read_with_dash() {
    assert_stdin_run(
        &["-", "nonspoofed"],
        "small-deflate.avro.gz",
        "small.nonspoofed.txt",
    );
}

#[test]
fn many_files_print_whole_outputs_in_the_given_order() {
    let expected = |name: &str| {
        std::fs::read_to_string(testdata(&format!("flowtuple/expected/{name}"))).unwrap()
    };
    // small-old.avro holds the timestamps of small-snappy.avro: they are
    // printed once, and the file that repeats them fails.
    let files = [
        "small-snappy.avro",
        "truncated.avro",
        "repro-deflate.avro",
        "small-old.avro",
        "small-deflate.avro.zst",
    ];
    let mut args = vec!["--mode".to_string(), "unfiltered".to_string()];
    args.extend(files.iter().map(|f| fixture(f)));
    for threads in ["1", "2", "3"] {
        let mut argv = args.clone();
        argv.extend(["-j".to_string(), threads.to_string()]);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (out, err, code) = run(&argv);
        let want = [
            expected("small.unfiltered.txt"),
            expected("truncated.unfiltered.txt"),
            expected("repro.unfiltered.txt"),
        ]
        .concat();
        assert!(out == want, "-j{threads}: output differs");
        assert_eq!(code, 1, "a bad file makes exit 1");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 4, "{err}");
        assert!(lines[0].contains("truncated.avro: truncated file"), "{err}");
        for (line, file) in [(1, "small-old.avro"), (2, "small-deflate.avro.zst")] {
            let want = format!(
                "flowtuple-series: {}: timestamp 0 (and 5 more of its timestamps) was already \
                 printed from input 1 ({}); its interval is not printed again, the file's other \
                 intervals are (a run gives one block per timestamp; --merge-repeated merges \
                 repeated timestamps into one interval)",
                fixture(file),
                fixture("small-snappy.avro")
            );
            assert_eq!(lines[line], want);
        }
        assert_eq!(format!("{}\n", lines[3]), tally(5, 2, 3));
    }
    // The single-file form and --mode with one file agree.
    let (a, _, _) = run(&[&fixture("small-null.avro"), "nonspoofed"]);
    let (b, _, _) = run(&["--mode", "nonspoofed", &fixture("small-null.avro")]);
    assert_eq!(a, b);
    // CSV prints its header once for many files.
    let (out, _, code) = run(&[
        "--mode",
        "unfiltered",
        "--format",
        "csv",
        &fixture("small-null.avro"),
        &fixture("repro-deflate.avro"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("time,class,key").count(), 1);
}

#[test]
fn closed_stdout_is_a_quiet_success() {
    // `| head -n 1`: the reader goes away after one line, long before the
    // output (two files of other timestamps, 160 kB, more than a pipe
    // buffer) is written.
    let (small, repro) = (fixture("small-null.avro"), fixture("repro-deflate.avro"));
    let args = ["--mode", "unfiltered", "-j", "1", &small, &repro];
    let mut child = bin("flowtuple-series")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().checked();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "no error on a closed pipe"
    );
}

/// Issue 9's cases (REPORT.tsv: expected file, exit status, arguments with
/// `@fixture` for input files): the sample index from the time, report
/// rules, dense and carried keys, merged repeated timestamps. Expected
/// outputs come from `reference.py` (see `make_report_fixtures.py`).
#[test]
fn report_rules_and_merging_cases() {
    let cases = tsv("REPORT.tsv");
    assert!(cases.len() >= 18, "only {} cases", cases.len());
    for case in &cases {
        let (name, status, args) = (&case[0], &case[1], &case[2]);
        let expected =
            std::fs::read_to_string(testdata(&format!("flowtuple/expected/{name}"))).unwrap();
        for threads in ["1", "2"] {
            let mut argv: Vec<String> = args
                .split(' ')
                .map(|a| match a.strip_prefix('@') {
                    Some(f) => fixture(f),
                    None => a.to_string(),
                })
                .collect();
            argv.extend(["-j".to_string(), threads.to_string()]);
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let (out, err, code) = run(&argv);
            assert!(out == expected, "{name} -j{threads}: output differs");
            assert_eq!(code == 0, status == "0", "{name}: exit {code}, {err}");
            // A run of several files ends with the tally.
            let files = args.matches('@').count();
            let (failed, end) = match (status == "0", files) {
                (true, 1) => (0, String::new()),
                (true, n) => (0, tally(n, n, 0)),
                (false, 1) => (1, String::new()),
                (false, n) => (1, tally(n, n - 1, 1)),
            };
            assert!(err.ends_with(&end), "{name}: {err}");
            let errors = &err[..err.len() - end.len()];
            assert_eq!(errors.lines().count(), failed, "{name}: {err}");
            if failed == 1 {
                assert!(errors.contains(": truncated file: "), "{name}: {err}");
            }
        }
    }
}

#[test]
fn report_dense_keys_without_port_ranges_cover_every_port() {
    // unfiltered: summary, 256 protocols, 4 x 65,536 ports, the one ICMP key
    // seen (8:0); 5 counters a row; three intervals.
    let (out, err, code) = run(&[&fixture("report.avro"), "unfiltered", "--compat", "report"]);
    assert_eq!(code, 0, "{err}");
    let rows_per_interval = 1 + 256 + 4 * 65_536 + 1;
    assert_eq!(out.lines().count(), 3 * 5 * rows_per_interval);
    // Hand-computed from report.avro: interval 1 tcp_src_ports 80 holds
    // 1.1.1.1 (2 and 1 packets), 1.1.1.3 and 1.1.1.4 (1 each): 5 packets,
    // 200 bytes, 3 sources, 4 destinations, ASNs {100, 300}: 2.
    for line in [
        "1700000040 tcp_src_ports 80 packets 5",
        "1700000040 tcp_src_ports 80 bytes 200",
        "1700000040 tcp_src_ports 80 uniq_src_ips 3",
        "1700000040 tcp_src_ports 80 uniq_dst_ips 4",
        "1700000040 tcp_src_ports 80 uniq_src_asns 2",
        "1700000040 udp_dst_ports 65535 packets 0",
        "1700000160 tcp_src_ports 80 packets 0",
        "1700000160 icmp 8:0 packets 0",
        "1700000160 ipprotocol 255 uniq_src_ips 0",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line}");
    }
}

#[test]
fn a_repeated_timestamp_without_the_flag_names_it() {
    let (out, err, code) = run(&[&fixture("repeated.avro"), "unfiltered"]);
    assert_eq!(code, 1);
    assert!(err.contains("timestamp 100 reappears"), "{err}");
    assert!(err.contains("--merge-repeated"), "{err}");
    // The first two intervals were complete and printed.
    assert!(out.starts_with("100 summary overall packets"), "{out}");
    let (help, _, _) = run(&["--help"]);
    for needle in [
        "--compat",
        "--merge-repeated",
        "--interval-length",
        "(time / L)",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn merging_reads_stdin_too() {
    assert_stdin_run(
        &["--merge-repeated", "-", "unfiltered"],
        "repeated.avro",
        "repeated.unfiltered.merge.txt",
    );
}
