//! netprofile end-to-end tests.

use std::fs;
use std::path::Path;
use std::process::Output;

use telescope_core::netprofile::time::parse_timestamp;

use crate::support::netprofile::{run, HOUR_US, NOW, PROFILE};
use crate::util::{bin, list, temp_copy, text, Checked, Json, AUTO_MODELS};

/// Checks a profile's layout and values; returns its protocol keys.
fn check_profile(path: &Path) -> Vec<String> {
    let json = Json::parse(&fs::read_to_string(path).unwrap());
    for (proto, metrics) in json.entries() {
        assert_eq!(
            metrics.keys(),
            ["bytes", "packets", "flow_count"],
            "{proto}"
        );
        for (metric, points) in metrics.entries() {
            let entries = points.entries();
            assert_eq!(entries.len(), 24, "{proto} {metric}");
            let times: Vec<i64> = entries
                .iter()
                .map(|(k, _)| parse_timestamp(k.as_bytes()).expect(k))
                .collect();
            for w in times.windows(2) {
                assert_eq!(w[1] - w[0], HOUR_US, "{proto} {metric}: hourly steps");
            }
            for (ts, p) in entries {
                assert_eq!(p.keys(), ["yhat", "yhat_lower", "yhat_upper"]);
                let (y, lo, hi) = (
                    p.get("yhat").num(),
                    p.get("yhat_lower").num(),
                    p.get("yhat_upper").num(),
                );
                assert!(y.is_finite() && lo.is_finite() && hi.is_finite());
                assert!(
                    0.0 <= lo && lo <= y && y <= hi,
                    "{proto} {metric} {ts}: {lo} {y} {hi}"
                );
            }
        }
    }
    json.keys().into_iter().map(String::from).collect()
}

/// Asserts `dir/latest.json` is a relative symlink to an existing `name`.
fn check_latest(dir: &Path, name: &str) {
    let target = fs::read_link(dir.join("latest.json")).unwrap();
    assert_eq!(target, Path::new(name), "relative target");
    assert!(dir.join(&target).is_file());
}

fn last_kept_plus_one_hour(json: &Json, proto: &str, metric: &str) -> i64 {
    let first = &json.get(proto).get(metric).entries()[0].0;
    parse_timestamp(first.as_bytes()).unwrap() - HOUR_US
}

#[test]
fn writes_profiles_for_the_shipped_root() {
    let root = temp_copy("netprofile/root");
    let out = run(root.path(), NOW, &["-j2"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.is_empty());
    for tag in ["1", "2"] {
        let dir = root.path().join(tag);
        assert_eq!(check_profile(&dir.join(PROFILE)), ["ICMP", "TCP", "UDP"]);
        check_latest(&dir, PROFILE);
        assert_eq!(list(&dir), ["data.csv", "latest.json", PROFILE]);
    }
    // A missing protocol is left out with a warning.
    let dir = root.path().join("3");
    assert_eq!(check_profile(&dir.join(PROFILE)), ["TCP", "UDP"]);
    check_latest(&dir, PROFILE);
    assert!(stderr.contains("tag 3: warning: ICMP: no rows"), "{stderr}");
    // Malformed rows: one warning for the file with the count and lines.
    let malformed: Vec<&str> = stderr.lines().filter(|l| l.contains("malformed")).collect();
    assert_eq!(malformed.len(), 1, "{stderr}");
    assert!(malformed[0].contains("tag 2: warning:"));
    assert!(malformed[0].contains("skipped 4 malformed row(s) (lines 159, 160, 324, 325)"));
    // The non-numeric directory is untouched.
    assert_eq!(list(&root.path().join("notes")), ["README.txt"]);
    let summary = stderr.lines().last().unwrap();
    assert!(
        summary.contains("3 tag(s) done, 0 failed, 1 other entries ignored; 24 series fitted;"),
        "{summary}"
    );
    assert_eq!(stderr.lines().count(), 3, "quiet without -v: {stderr}");
}

#[test]
fn forecasts_start_one_hour_after_the_last_kept_row() {
    let root = temp_copy("netprofile/root");
    assert_eq!(
        run(root.path(), NOW, &["--outlier-quantile", "1"])
            .status
            .code(),
        Some(0)
    );
    let json = Json::parse(&fs::read_to_string(root.path().join("3").join(PROFILE)).unwrap());
    // With every row kept, the last TCP row of tag 3 is the last TCP line.
    let data = fs::read_to_string(root.path().join("3/data.csv")).unwrap();
    let last_tcp = data
        .lines()
        .filter(|l| l.ends_with(",6"))
        .map(|l| parse_timestamp(l.split(',').nth(1).unwrap().as_bytes()).unwrap())
        .max()
        .unwrap();
    for metric in ["bytes", "packets", "flow_count"] {
        assert_eq!(last_kept_plus_one_hour(&json, "TCP", metric), last_tcp);
    }
}

#[test]
fn failing_tags_keep_their_files_and_exit_1() {
    let root = temp_copy("netprofile/broken");
    let old = "profile-2020-01-01T00:00:00.json";
    for tag in ["2", "4"] {
        let dir = root.path().join(tag);
        fs::write(dir.join(old), "{\"TCP\": {}}\n").unwrap();
        std::os::unix::fs::symlink(old, dir.join("latest.json")).unwrap();
    }
    let before: Vec<_> = ["2", "3", "4", "5"]
        .iter()
        .map(|t| list(&root.path().join(t)))
        .collect();
    let out = run(root.path(), NOW, &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tag 2: error:") && stderr.contains("empty file"),
        "{stderr}"
    );
    assert!(stderr.contains("tag 3: error: cannot read") && stderr.contains("data.csv"));
    assert!(stderr.contains("tag 4: error: nothing could be forecast"));
    assert!(stderr.contains("tag 5: error:") && stderr.contains("header lacks"));
    assert!(stderr.contains("1 tag(s) done, 4 failed, 0 other entries ignored; 9 series fitted;"));
    // The good tag was still processed.
    check_profile(&root.path().join("1").join(PROFILE));
    check_latest(&root.path().join("1"), PROFILE);
    // Failed tags: nothing added, latest.json unchanged.
    for (t, files) in ["2", "3", "4", "5"].iter().zip(&before) {
        assert_eq!(&list(&root.path().join(t)), files, "tag {t}");
    }
    check_latest(&root.path().join("2"), old);
    check_latest(&root.path().join("4"), old);
}

#[test]
fn jobs_do_not_change_the_output() {
    let (a, b) = (temp_copy("netprofile/root"), temp_copy("netprofile/root"));
    let ra = run(a.path(), NOW, &["-j1"]);
    let rb = run(b.path(), NOW, &["--jobs", "2"]);
    assert_eq!((ra.status.code(), rb.status.code()), (Some(0), Some(0)));
    for tag in ["1", "2", "3"] {
        let fa = fs::read(a.path().join(tag).join(PROFILE)).unwrap();
        let fb = fs::read(b.path().join(tag).join(PROFILE)).unwrap();
        assert!(fa == fb, "tag {tag} differs between -j1 and -j2");
    }
    // The stderr lines differ only by the root path and the seconds.
    let strip = |o: &Output, p: &Path| {
        let s = text(o).1.replace(&p.display().to_string(), "ROOT");
        s.rsplit_once(';').map(|(h, _)| h.to_string()).unwrap()
    };
    assert_eq!(strip(&ra, a.path()), strip(&rb, b.path()));
}

#[test]
fn keep_prunes_older_profiles_but_never_latest() {
    let root = temp_copy("netprofile/root");
    let dir = root.path().join("3");
    // A stray future-dated profile sorts newest; latest.json must survive anyway.
    fs::write(dir.join("profile-2030-01-01T00:00:00.json"), "{}\n").unwrap();
    fs::write(dir.join("unrelated.json"), "{}\n").unwrap();
    for now in ["2026-01-01T00:00:00", "2026-01-01T01:00:00.5"] {
        assert_eq!(
            run(root.path(), now, &["--tag", "3"]).status.code(),
            Some(0)
        );
    }
    let out = run(
        root.path(),
        "2026-01-01T02:00:00",
        &["--tag", "3", "--keep", "1", "-v"],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("2 old profile(s) removed"), "{stderr}");
    assert_eq!(
        list(&dir),
        [
            "data.csv",
            "latest.json",
            "profile-2026-01-01T02:00:00.json",
            "profile-2030-01-01T00:00:00.json",
            "unrelated.json"
        ]
    );
    check_latest(&dir, "profile-2026-01-01T02:00:00.json");
}

#[test]
fn tag_filter_and_missing_tag() {
    let root = temp_copy("netprofile/root");
    let out = run(root.path(), NOW, &["--tag", "2"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(root.path().join("2").join(PROFILE).is_file());
    assert!(!root.path().join("1/latest.json").exists());
    assert!(!root.path().join("3/latest.json").exists());
    let out = run(root.path(), NOW, &["--tag", "3", "--tag", "99"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tag 99: error: no tag directory"),
        "{stderr}"
    );
    assert!(root.path().join("3").join(PROFILE).is_file());
}

#[test]
fn other_protocols_and_multiplicative_mode() {
    let root = temp_copy("netprofile/root");
    let args = [
        "--tag",
        "1",
        "--protocols",
        "47,udp,41,253",
        "--seasonality-mode",
        "multiplicative",
    ];
    let out = run(root.path(), NOW, &args);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let keys = check_profile(&root.path().join("1").join(PROFILE));
    // 253 has a single row in tag 1: left out with warnings.
    assert_eq!(keys, ["GRE", "UDP", "IPv6"]);
    assert!(stderr.contains("tag 1: warning: 253"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let root = temp_copy("netprofile/root");
    for (args, hint) in [
        (&["--horizon", "0"][..], "1 to 8760"),
        (&["--interval-width", "1.5"], "between 0 and 1"),
        (&["--outlier-quantile", "0"], "(0, 1]"),
        (&["--protocols", "TCP,FOO"], "ICMP"),
        (&["--seasonality-mode", "cubic"], "additive"),
        (&["--keep", "0"], ">= 1"),
        (&["--jobs", "x"], ">= 1"),
        (&["--tag", "abc"], "positive integer"),
        (&["--evaluate-days", "3"], "--evaluate"),
        (&["--bogus"], "--bogus"),
    ] {
        let out = run(root.path(), NOW, args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(hint), "{args:?}: {stderr}");
    }
    let out = run(&root.path().join("nope"), NOW, &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("cannot read data root"), "{stderr}");
    let out = run(root.path(), "yesterday", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("NETPROFILE_NOW"));
    // Nothing was written by any of these.
    assert!(!root.path().join("1/latest.json").exists());
}

#[test]
fn help_explains_output_and_exit_codes() {
    let out = bin("netprofile").arg("--help").output().checked();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    for needle in [
        "Exit status",
        "latest.json",
        "profile-<TS>.json",
        "NETPROFILE_NOW",
        "--evaluate",
    ] {
        assert!(stdout.contains(needle), "{needle}");
    }
}

#[test]
fn evaluate_prints_a_table_and_writes_nothing() {
    let root = temp_copy("netprofile/root");
    let out = run(root.path(), NOW, &["--evaluate", "--evaluate-days", "3"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["tag", "protocol", "metric", "origins", "points", "sMAPE%", "MASE", "cov80", "model"]
    );
    let rows: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(rows.iter().all(|r| r.len() == 9));
    // Each series names the model of its final fit; `all` has none.
    assert!(rows[..rows.len() - 1]
        .iter()
        .all(|r| AUTO_MODELS.contains(&r[8])));
    assert_eq!(rows.last().unwrap()[8], "-");
    let tag1: Vec<_> = rows
        .iter()
        .filter(|r| r[0] == "1")
        .map(|r| (r[1], r[2]))
        .collect();
    assert_eq!(tag1.len(), 9);
    assert_eq!(tag1[0], ("ICMP", "bytes"));
    assert_eq!(tag1[8], ("UDP", "flow_count"));
    let all = rows.last().unwrap();
    assert_eq!(all[0], "all");
    let smape: f64 = all[5].parse().unwrap();
    let cov: f64 = all[7].parse().unwrap();
    assert!(smape > 0.0 && smape < 200.0 && (0.0..=1.0).contains(&cov));
    assert!(stderr.contains("series evaluated"), "{stderr}");
    for tag in ["1", "2", "3"] {
        assert!(!root.path().join(tag).join("latest.json").exists());
    }
}

#[test]
fn evaluate_into_a_closed_pipe_is_a_clean_exit() {
    let root = temp_copy("netprofile/root");
    let exe = env!("CARGO_BIN_EXE_netprofile");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#"set -o pipefail; "$0" --evaluate "$1" 2>"$1/err" | true"#)
        .arg(exe)
        .arg(root.path())
        .output()
        .checked();
    let stderr = fs::read_to_string(root.path().join("err")).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_failed_write_leaves_the_tag_untouched() {
    let root = temp_copy("netprofile/root");
    // latest.json is a directory: refused (exit 2), the other tags written.
    let dir = root.path().join("1");
    fs::create_dir(dir.join("latest.json")).unwrap();
    let before = list(&dir);
    let out = run(root.path(), NOW, &["-v"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "tag 1: error: {} is a directory, not a regular file: refused",
            dir.join("latest.json").display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("ignored notes: not a tag directory"),
        "{stderr}"
    );
    assert!(stderr.contains("tag 2: wrote"), "{stderr}");
    assert_eq!(list(&dir), before);
    assert!(list(&dir.join("latest.json")).is_empty());
}

#[test]
fn horizon_and_interval_width_are_honoured() {
    let root = temp_copy("netprofile/root");
    let args = ["--tag", "1", "--horizon", "6", "--interval-width", "0.5"];
    assert_eq!(run(root.path(), NOW, &args).status.code(), Some(0));
    let narrow = Json::parse(&fs::read_to_string(root.path().join("1").join(PROFILE)).unwrap());
    let later = "2026-01-02T03:04:06";
    let args = ["--tag", "1", "--horizon", "6", "--interval-width", "0.95"];
    assert_eq!(run(root.path(), later, &args).status.code(), Some(0));
    let wide = Json::parse(
        &fs::read_to_string(root.path().join("1/profile-2026-01-02T03:04:06.json")).unwrap(),
    );
    check_latest(&root.path().join("1"), "profile-2026-01-02T03:04:06.json");
    for proto in ["ICMP", "TCP", "UDP"] {
        let (n, w) = (narrow.get(proto).get("bytes"), wide.get(proto).get("bytes"));
        assert_eq!(n.entries().len(), 6);
        assert_eq!(n.keys(), w.keys());
        for ((_, a), (_, b)) in n.entries().iter().zip(w.entries()) {
            assert_eq!(a.get("yhat").num(), b.get("yhat").num());
            let width = |p: &Json| p.get("yhat_upper").num() - p.get("yhat_lower").num();
            assert!(width(a) <= width(b), "{proto}: 50% band wider than 95%");
        }
    }
}

/// `--evaluate-days` beyond the data: each tag says how many origins were
/// scored and why the others were not. Tag 1's rows (ICMP, TCP, UDP) span
/// 4.985 days, so only the origins 1 and 2 days before its last row have
/// 48 h of rows before them (checked by hand from data.csv).
#[test]
fn evaluate_says_how_many_origins_were_used_and_why() {
    let root = temp_copy("netprofile/root");
    let out = run(root.path(), NOW, &["--evaluate", "--evaluate-days", "20"]);
    let (table, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "tag 1: warning: --evaluate-days 20: every scored series scored at 2 of 20 daily \
             origins (18 had less than 48 h of rows before them); the rows span 5.0 days"
        ),
        "{stderr}"
    );
    // The table agrees: 2 origins on each of tag 1's lines.
    for line in table.lines().filter(|l| l.starts_with("1 ")) {
        assert_eq!(line.split_whitespace().nth(3), Some("2"), "{line}");
    }
    // Tags 2 and 3 say so too; with 2 days asked, tag 1 says nothing.
    assert_eq!(stderr.matches("daily origins (").count(), 3, "{stderr}");
    let out = run(
        root.path(),
        NOW,
        &["--evaluate", "--evaluate-days", "2", "--tag", "1"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out).1.contains("origins"), "{}", text(&out).1);
}
