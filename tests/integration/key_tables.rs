//! Key tables against `--memory-limit`: a hostile file (a new geo tag on
//! every record) fails with an error naming the table, at a bound that
//! does not depend on its length; the other files of the run print.

use crate::flowtuple::{fixture, run};
use telescope_test_support::v3::{write_v3, V3};

/// A v3 file of `n` records of one interval, each with a new Net Acuity
/// country (so a new geo tag and a new geo tag combination).
fn hostile(dir: &std::path::Path, n: u32) -> String {
    let records: Vec<V3> = (0..n)
        .map(|i| V3 {
            geo: ["EU".into(), "FR".into(), "EU".into(), format!("c{i}")],
            prefix2asn: 3215,
            ..V3::syn(1_600_000_020, 0x0800_0000 + i, 0x2c00_0000 + i)
        })
        .collect();
    let path = dir.join(format!("hostile-{n}.avro"));
    std::fs::write(&path, write_v3(&records)).unwrap();
    path.to_string_lossy().into_owned()
}

/// The distinct keys the error names, and the block.
fn failure(err: &str, file: &str) -> (u64, u64) {
    let line = err
        .lines()
        .find(|l| l.contains(file))
        .unwrap_or_else(|| panic!("no error for {file}: {err}"));
    assert!(
        line.contains("the interval's geo tag combination table holds ")
            && line.contains("key tables do not spill: raise the memory limit)"),
        "{line}"
    );
    let number = |after: &str| -> u64 {
        let rest = &line[line.find(after).unwrap() + after.len()..];
        rest.split(' ').next().unwrap().parse().unwrap()
    };
    (number("table holds "), number(": block "))
}

#[test]
fn a_new_geo_tag_on_every_record_fails_at_a_bound_and_the_other_files_print() {
    let dir = tempfile::tempdir().unwrap();
    let temp = dir.path().to_string_lossy().into_owned();
    let (short, long) = (hostile(dir.path(), 40_000), hostile(dir.path(), 80_000));
    let small = fixture("small-null.avro");
    let limit = ["--memory-limit", "1K", "--temp-dir", &temp];
    let mode = ["--mode", "unfiltered-ipmeta"];
    let (alone, _, code) = run(&[&mode[..], &limit, &[small.as_str()]].concat());
    assert_eq!(code, 0);
    let mut bounds = Vec::new();
    for threads in ["-j1", "-j2"] {
        for file in [&short, &long] {
            let (out, err, code) = run(&[&mode[..], &limit, &[threads, file, &small]].concat());
            assert_eq!(code, 1, "{err}");
            // The other file prints whole; the hostile one nothing.
            assert_eq!(out, alone, "{threads} {file}");
            bounds.push(failure(&err, file));
        }
    }
    // At a 1 KiB limit key tables get 4 MiB: each record's geo tag and
    // combination take well over 100 bytes and under 400, so 10,000 to
    // 40,000 keys; the same whatever the file's length.
    let (keys, _) = bounds[0];
    assert!((10_000..40_000).contains(&keys), "{bounds:?}");
    assert_eq!(bounds[1], bounds[0], "the longer file went further");
    assert_eq!(bounds[3], bounds[2], "the longer file went further");
    // Without a limit, nothing bounds them: the file prints.
    let (out, err, code) = run(&[&mode[..], &["--memory-limit", "none", short.as_str()]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("c39999"), "the last country is missing");
}
