//! flowtuple4 files read as flowtuple-series reads v3 files: schemas told
//! apart by their fields, one format and exact options per run, named
//! pipes, spilling, and broken files failing as v3 files do (the
//! conversions are those of `flowtuple4.rs`).

use telescope_test_support::ftconvert::{self, Converter, Version};

use crate::flowtuple4::{conv, generate, run, strings};
use crate::util::{bin, testdata, text, Checked};

/// The encoded records of one converted interval of generated data.
fn one_interval(version: Version, dst_net: u8) -> Vec<Vec<u8>> {
    let mut c = Converter::new(conv(version, dst_net, 1));
    c.add(&generate(3, 1_700_000_100, 1, 300));
    c.encoded()
}

#[test]
fn pinned_schemas_are_told_apart_by_their_fields_not_their_names() {
    // The early layout is named `flowtuple3` and still read as flowtuple4;
    // v3's dst_ip file with dst_net absent is v3.
    assert!(ftconvert::SCHEMA_EARLY.contains(r#""name":"flowtuple3""#));
    assert!(!ftconvert::SCHEMA_EARLY.contains("maxmind"));
    assert!(ftconvert::SCHEMA_V1.contains(r#""name":"flowtuple4""#));
    assert!(!ftconvert::SCHEMA_V1.contains("spoofed_packet_cnt"));
    assert!(
        ftconvert::SCHEMA_V2.contains(r#"{"name": "masscan_packet_cnt", "type": "long"}       ]}"#)
    );
    let dir = tempfile::tempdir().unwrap();
    for version in [Version::Early, Version::V1, Version::V2] {
        let p = dir.path().join("f.avro");
        std::fs::write(
            &p,
            ftconvert::container(version.schema(), false, 7, &one_interval(version, 24)),
        )
        .unwrap();
        let (o, e, c) = run(&strings(&[
            "--dst-net",
            "24",
            &p.display().to_string(),
            "unfiltered",
        ]));
        assert_eq!(c, 0, "{version:?}: {e}");
        assert!(o.starts_with("1700000100 summary overall packets "), "{o}");
        assert!(
            o.contains(" uniq_dst_net24s ") && !o.contains(" bytes ") && !o.contains("src_ports")
        );
        // Without --dst-net: a usage error saying why.
        let (o, e, c) = run(&strings(&[&p.display().to_string(), "unfiltered"]));
        assert_eq!((c, o.as_str()), (2, ""), "{e}");
        assert!(e.contains("--dst-net 24 or --dst-net 16"), "{e}");
    }
}

#[test]
// One scenario after another on the same converted files.
#[allow(clippy::too_many_lines)]
fn one_run_reads_one_format_and_only_exact_options() {
    let dir = tempfile::tempdir().unwrap();
    let v3 = testdata("flowtuple/minutes.avro").display().to_string();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let file = ftconvert::container(
        ftconvert::SCHEMA_V2,
        true,
        50,
        &one_interval(Version::V2, 24),
    );
    std::fs::write(p("a.ft4.avro"), &file).unwrap();
    std::fs::write(p("b.ft4.avro"), &file).unwrap();
    let usage = |args: &[&str], says: &str| {
        let (o, e, c) = run(&strings(args));
        assert_eq!((c, o.as_str()), (2, ""), "{args:?}: {e}");
        assert!(e.contains(says), "{args:?}: {e}");
    };
    let (a, b) = (p("a.ft4.avro"), p("b.ft4.avro"));
    usage(
        &["--dst-net", "24", "--mode", "unfiltered", &v3, &a, &b],
        &format!("`{a}` is a flowtuple4 file, but `{v3}` is flowtuple (v3)"),
    );
    usage(
        &["--dst-net", "24", "--mode", "unfiltered", &a, &b, &v3],
        &format!("`{v3}` is a flowtuple (v3) file, but `{a}` is flowtuple4"),
    );
    usage(
        &["--dst-net", "24", &v3, "unfiltered"],
        "--dst-net applies to flowtuple4 files only",
    );
    usage(&["--dst-net", "20", &a, "unfiltered"], "not 24 or 16");
    for mode in ["nonspoofed", "unrouted-nonspoofed"] {
        usage(&["--dst-net", "24", &a, mode], "spoofed_packet_cnt");
    }
    usage(
        &[
            "--dst-net",
            "24",
            "--tcp-src-ports",
            "0-1024",
            &a,
            "unfiltered",
        ],
        "no source-port series",
    );
    usage(
        &[
            "--dst-net",
            "24",
            "--dst-ip-counting",
            "sample:24",
            &a,
            "unfiltered",
        ],
        "sample:N is not available on flowtuple4",
    );
    usage(
        &[
            "--dst-net",
            "16",
            "--dst-ip-counting",
            "prefixagg:24",
            &a,
            "unfiltered",
        ],
        "finer than the /16 networks",
    );
    usage(
        &[
            "--dst-net",
            "24",
            "--compat",
            "report",
            "--src-ip-counting",
            "prefixagg:24",
            &a,
            "unfiltered-ipmeta",
        ],
        "does not keep the order of v3",
    );
    // Same bytes for any thread count (a file of three blocks).
    let fixture = testdata("flowtuple/ft4-v2-24.avro").display().to_string();
    let outs: Vec<String> = ["1", "2", "3"]
        .iter()
        .map(|j| {
            let args = [
                "--dst-net",
                "24",
                "--format",
                "jsonl",
                "-j",
                j,
                &fixture,
                "unfiltered",
            ];
            let (o, e, c) = run(&strings(&args));
            assert_eq!(c, 0, "{e}");
            o
        })
        .collect();
    assert!(outs[0].contains(r#""class":"icmp""#) && outs.iter().all(|o| *o == outs[0]));
    let help = bin("flowtuple-series").arg("--help").output().checked();
    let help = text(&help).0;
    assert!(
        help.contains("FLOWTUPLE4: only what is exact") && help.contains("--dst-net <24|16>"),
        "{help}"
    );
    // A /24 file stated to be /16: the first /24 network is an error naming
    // the record; nothing is printed for its interval.
    let (o, e, c) = run(&strings(&["--dst-net", "16", &a, "unfiltered"]));
    assert_eq!((c, o.as_str()), (1, ""), "{e}");
    assert!(
        e.contains("a.ft4.avro: block 0 at byte offset") && e.contains("has a nonzero third octet"),
        "{e}"
    );
    // stdin: told from its first bytes, then read whole.
    let (want, _, _) = run(&strings(&["--dst-net", "24", &a, "unfiltered"]));
    let out = bin("flowtuple-series")
        .args(["--dst-net", "24", "-", "unfiltered"])
        .stdin(std::fs::File::open(&a).unwrap())
        .output()
        .checked();
    assert_eq!((out.status.code(), text(&out).0), (Some(0), want.clone()));
    assert!(want.contains(" uniq_dst_net24s "));
    let out = bin("flowtuple-series")
        .args([
            "--dst-net",
            "24",
            "--merge-repeated",
            "--mode",
            "unfiltered",
            "-",
            &b,
        ])
        .stdin(std::fs::File::open(&a).unwrap())
        .output()
        .checked();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    // The same interval twice, merged: packets double, distinct counts stay.
    let line = |s: &str, what: &str| -> u64 {
        s.lines()
            .find(|l| l.starts_with(what))
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let merged = text(&out).0;
    let key = "1700000100 summary overall packets";
    assert_eq!(line(&merged, key), 2 * line(&want, key));
    let key = "1700000100 summary overall uniq_dst_net24s";
    assert_eq!(line(&merged, key), line(&want, key));
}

/// A named pipe is not read ahead (its bytes would be lost): a flowtuple4
/// stream among v3 files fails when it is processed (exit 1, the others
/// printed), and a v3 stream in a pipe reads as from a file (one of other
/// timestamps than the file's: a repeated one is an error).
#[test]
fn named_pipes_are_checked_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let v3 = testdata("flowtuple/minutes.avro");
    let piped = testdata("flowtuple/small-null.avro");
    let ft4 = ftconvert::container(
        ftconvert::SCHEMA_V2,
        true,
        50,
        &one_interval(Version::V2, 24),
    );
    for (name, data, ok) in [
        ("v3.pipe", std::fs::read(&piped).unwrap(), true),
        ("ft4.pipe", ft4, false),
    ] {
        let fifo = dir.path().join(name);
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
                let _ = std::io::Write::write_all(&mut w, &data);
            })
        };
        let args = strings(&[
            "--mode",
            "unfiltered",
            &v3.display().to_string(),
            &fifo.display().to_string(),
        ]);
        let (out, err, code) = run(&args);
        writer.join().unwrap();
        let (alone, _, _) = run(&strings(&[&v3.display().to_string(), "unfiltered"]));
        if ok {
            let (from_file, _, _) = run(&strings(&[&piped.display().to_string(), "unfiltered"]));
            assert_eq!((code, err), (0, crate::util::tally(2, 2, 0)), "{name}");
            assert_eq!(out, format!("{alone}{from_file}"), "{name}");
        } else {
            assert_eq!(code, 1, "{name}: {err}");
            assert_eq!(out, alone, "{name}");
            assert!(err.contains("one run reads one format"), "{name}: {err}");
        }
    }
}

/// The memory limit applies to flowtuple4 as to v3: a limit small enough
/// to spill gives the same bytes as no limit.
#[test]
fn flowtuple4_spills_under_a_memory_limit_with_the_same_output() {
    let f = testdata("flowtuple/ft4-v2-24.avro").display().to_string();
    for mode in ["unfiltered", "unfiltered-ipmeta"] {
        let base = strings(&[&f, mode, "--dst-net", "24"]);
        let (want, err, code) = run(&[base.clone(), strings(&["--memory-limit", "none"])].concat());
        assert_eq!(code, 0, "{err}");
        assert!(want.lines().count() > 10, "{want}");
        let (got, err, code) =
            run(&[base, strings(&["--memory-limit", "1K", "--stats", "-j2"])].concat());
        assert_eq!(code, 0, "{err}");
        assert_eq!(got, want, "{mode}");
        let spilled: u64 = err
            .split("spilled ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no spill figure in {err}"));
        assert!(spilled > 0, "{mode}: {err}");
    }
}

#[test]
fn broken_flowtuple4_files_fail_as_v3_files_do() {
    let dir = tempfile::tempdir().unwrap();
    let records = one_interval(Version::V2, 24);
    let fails = |name: &str, bytes: &[u8], says: &[&str]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let (o, e, c) = run(&strings(&[
            "--dst-net",
            "24",
            &p.display().to_string(),
            "unfiltered-ipmeta",
        ]));
        assert_eq!((c, o.as_str()), (1, ""), "{name}: {e}");
        for s in says {
            assert!(e.contains(s), "{name}: {e}");
        }
    };
    let schema = |from: &str, to: &str| {
        assert!(ftconvert::SCHEMA_V2.contains(from));
        ftconvert::SCHEMA_V2.replace(from, to)
    };
    let missing = schema(r#"{"name": "prefix2asn", "type": "long"}, "#, "");
    fails(
        "missing.avro",
        &ftconvert::container(&missing, true, 50, &records),
        &["missing.avro: not a usable flowtuple file: field `prefix2asn` is missing from the writer schema (needed by mode unfiltered-ipmeta)"],
    );
    let typed = schema(
        r#"{"name": "dst_net", "type": "long"}"#,
        r#"{"name": "dst_net", "type": "string"}"#,
    );
    fails(
        "typed.avro",
        &ftconvert::container(&typed, true, 50, &records),
        &["typed.avro: field `dst_net` has type string, expected int or long"],
    );
    let whole = ftconvert::container(ftconvert::SCHEMA_V2, true, 50, &records);
    fails(
        "truncated.avro",
        &whole[..whole.len() * 2 / 3],
        &["truncated.avro: truncated file: block "],
    );
    let mut corrupt = whole.clone();
    let n = corrupt.len();
    for b in &mut corrupt[n / 2..n / 2 + 40] {
        *b ^= 0x55;
    }
    fails(
        "corrupt.avro",
        &corrupt,
        &["corrupt.avro: corrupt file: block "],
    );
}
