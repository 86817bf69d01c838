//! netprofile for cron and monitoring: --quiet, --summary-json, --max-age,
//! --complete-only, empty roots, tag conflicts, --evaluate explanations.

use std::fs;
use std::path::Path;

use telescope_core::netprofile::time::{format_timestamp, parse_timestamp};

use crate::support::netprofile::{run, HOUR_US, NOW, PROFILE};
use crate::util::{bin, list, temp_copy, text, Checked, Json, AUTO_MODELS};

fn str_of(j: &Json) -> &str {
    match j {
        Json::Str(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}

fn arr(j: &Json) -> &[Json] {
    match j {
        Json::Array(a) => a,
        other => panic!("not an array: {other:?}"),
    }
}

fn tag<'a>(doc: &'a Json, name: &str) -> &'a Json {
    arr(doc.get("tags"))
        .iter()
        .find(|t| str_of(t.get("tag")) == name)
        .unwrap_or_else(|| panic!("no tag {name}"))
}

/// The newest TIME_LAST of a tag's data.csv, read here independently.
fn newest_time_last(path: &Path) -> i64 {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| parse_timestamp(l.split(',').nth(2)?.as_bytes()))
        .max()
        .unwrap()
}

#[test]
fn quiet_prints_only_warnings_and_errors() {
    let root = temp_copy("netprofile/root");
    let out = run(root.path(), NOW, &["-q", "--tag", "1"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", ""));
    assert!(root.path().join("1").join(PROFILE).is_file());
    // Warnings still show, but not the summary line.
    let out = run(root.path(), "2026-01-02T04:00:00", &["--quiet"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("netprofile: tag 2: warning:") && lines[0].contains("malformed"));
    assert!(lines[1].starts_with("netprofile: tag 3: warning: ICMP: no rows"));
    // Errors too.
    let out = run(root.path(), NOW, &["-q", "--tag", "9"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("tag 9: error: no tag directory"));
}

#[test]
fn summary_json_describes_every_tag() {
    let root = temp_copy("netprofile/root");
    let sum_dir = tempfile::tempdir().unwrap();
    let path = sum_dir.path().join("summary.json");
    fs::write(&path, "old").unwrap();
    let out = run(
        root.path(),
        NOW,
        &["--summary-json", path.to_str().unwrap(), "--keep", "5"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    // Replaced atomically: no temporary file left beside it.
    assert_eq!(list(sum_dir.path()), ["summary.json"]);
    let doc = Json::parse(&fs::read_to_string(&path).unwrap());
    assert_eq!(doc.get("schema").num(), 1.0);
    assert_eq!(str_of(doc.get("mode")), "profile");
    assert_eq!(str_of(doc.get("run_time")), NOW);
    assert_eq!(str_of(doc.get("run_time_utc")), format!("{NOW}Z"));
    assert_eq!(doc.get("exit_code").num(), 0.0);
    assert_eq!(doc.get("options").get("keep").num(), 5.0);
    let counts = doc.get("counts");
    assert_eq!(
        ["done", "failed", "skipped", "ignored_entries", "series"].map(|k| counts.get(k).num()),
        [3.0, 0.0, 0.0, 1.0, 24.0]
    );
    assert_eq!(arr(doc.get("ignored_entries")), [Json::Str("notes".into())]);
    assert_eq!(arr(doc.get("tags")).len(), 3);

    let t1 = tag(&doc, "1");
    assert_eq!(str_of(t1.get("status")), "done");
    let data = root.path().join("1/data.csv");
    let rows = fs::read_to_string(&data).unwrap().lines().count() - 1;
    assert_eq!(t1.get("rows").get("read").num(), rows as f64);
    assert_eq!(t1.get("rows").get("malformed").num(), 0.0);
    assert_eq!(
        str_of(t1.get("last_data_utc")),
        format!("{}Z", format_timestamp(newest_time_last(&data)))
    );
    let series = arr(t1.get("series"));
    assert_eq!(series.len(), 9);
    // The model each series' fit used: the one `--evaluate` names for the
    // final fit on all rows (computed on another path).
    let eval = run(root.path(), NOW, &["--evaluate", "--tag", "1"]);
    let (table, _) = text(&eval);
    for s in series {
        assert_eq!(str_of(s.get("status")), "fitted");
        let (protocol, metric) = (str_of(s.get("protocol")), str_of(s.get("metric")));
        let line = table
            .lines()
            .find(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 2 && f[1] == protocol && f[2] == metric
            })
            .unwrap_or_else(|| panic!("{protocol} {metric} not in\n{table}"));
        let model = str_of(s.get("model"));
        assert!(
            model == "seasonal-trend" || AUTO_MODELS.contains(&model),
            "{model}"
        );
        assert_eq!(line.split_whitespace().last(), Some(model), "{line}");
        assert_eq!(s.get("reason"), &Json::Literal("null".into()));
    }
    assert_eq!(
        Path::new(str_of(t1.get("profile"))),
        root.path().join("1").join(PROFILE)
    );
    assert_eq!(t1.get("error"), &Json::Literal("null".into()));

    let t2 = tag(&doc, "2");
    let rows2 = t2.get("rows");
    assert_eq!(
        ["malformed", "duplicates", "repeated_headers"].map(|k| rows2.get(k).num()),
        [4.0, 5.0, 1.0]
    );
    assert_eq!(arr(t2.get("warnings")).len(), 1);

    let t3 = tag(&doc, "3");
    let icmp: Vec<&Json> = arr(t3.get("series"))
        .iter()
        .filter(|s| str_of(s.get("protocol")) == "ICMP")
        .collect();
    assert_eq!(icmp.len(), 3);
    for s in icmp {
        assert_eq!(str_of(s.get("status")), "left_out");
        assert_eq!(str_of(s.get("reason")), "no rows");
        assert_eq!(s.get("model"), &Json::Literal("null".into()));
    }
    assert!(str_of(&arr(t3.get("warnings"))[0]).contains("ICMP: no rows"));
}

#[test]
fn summary_json_on_stdout_and_for_failures() {
    let root = temp_copy("netprofile/broken");
    let out = run(root.path(), NOW, &["--summary-json", "-", "-q"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let doc = Json::parse(&stdout);
    assert_eq!(doc.get("exit_code").num(), 1.0);
    assert_eq!(doc.get("counts").get("failed").num(), 4.0);
    let t4 = tag(&doc, "4");
    assert_eq!(str_of(t4.get("status")), "failed");
    assert!(str_of(t4.get("error")).contains("nothing could be forecast"));
    assert_eq!(t4.get("profile"), &Json::Literal("null".into()));
    assert!(arr(t4.get("series"))
        .iter()
        .all(|s| str_of(s.get("status")) == "left_out"));
    let t3 = tag(&doc, "3");
    assert_eq!(t3.get("rows"), &Json::Literal("null".into()));
    assert!(str_of(t3.get("error")).contains("cannot read"));
    // An unreadable root: exit 2, and the summary still says why.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let out = run(
        &root.path().join("nope"),
        NOW,
        &["--summary-json", path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let doc = Json::parse(&fs::read_to_string(&path).unwrap());
    assert_eq!(doc.get("exit_code").num(), 2.0);
    assert!(str_of(doc.get("error")).contains("cannot read data root"));
}

#[test]
fn max_age_fails_stale_tags_comparing_in_utc() {
    let root = temp_copy("netprofile/root");
    let newest = newest_time_last(&root.path().join("1/data.csv"));
    // The run's clock is local time in UTC+5; the data are UTC.
    let local = |age_h: f64| format_timestamp(newest + 5 * HOUR_US + (age_h * 3.6e9) as i64);
    let run_tz = |now: &str, extra: &[&str]| {
        bin("netprofile")
            .env("NETPROFILE_NOW", now)
            .env("TZ", "<+05>-5")
            .args(["--tag", "1", "--max-age", "1"])
            .args(extra)
            .arg(root.path())
            .output()
            .checked()
    };
    let fresh = run_tz(&local(0.5), &[]);
    assert_eq!(fresh.status.code(), Some(0), "{}", text(&fresh).1);
    let before = list(&root.path().join("1"));
    let stale = run_tz(&local(2.0), &[]);
    let (_, stderr) = text(&stale);
    assert_eq!(stale.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tag 1: error: newest row ends")
            && stderr.contains("more than 1 h before the run")
            && stderr.contains("is the logger running?"),
        "{stderr}"
    );
    assert_eq!(list(&root.path().join("1")), before, "nothing written");
}

#[test]
fn an_empty_root_fails_so_cron_alerts() {
    let root = tempfile::tempdir().unwrap();
    let sum_dir = tempfile::tempdir().unwrap();
    let summary = sum_dir.path().join("s.json");
    let args = ["--summary-json", summary.to_str().unwrap()];
    let out = run(root.path(), NOW, &args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let message = format!(
        "netprofile: error: no tags under {} (is it mounted?)",
        root.path().display()
    );
    // One line, no tally; nothing created in the root, not even the lock.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&message), "{stderr}");
    assert_eq!(stdout, "");
    assert!(list(root.path()).is_empty(), "{:?}", list(root.path()));
    let doc = Json::parse(&fs::read_to_string(&summary).unwrap());
    assert_eq!(doc.get("exit_code").num(), 1.0);
    assert!(str_of(doc.get("error")).starts_with("no tags under"));
    // Plain files and other directories are ignored entries, not tags.
    fs::write(root.path().join("README"), "x").unwrap();
    fs::write(root.path().join("5"), "a file named like a tag").unwrap();
    fs::create_dir(root.path().join("old")).unwrap();
    let out = run(root.path(), NOW, &["-v"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&message), "{stderr}");
    assert!(!stderr.contains("tag(s) done"), "{stderr}");
    assert!(
        stderr.contains("ignored 5: not a tag directory"),
        "{stderr}"
    );
    assert_eq!(list(root.path()), ["5", "README", "old"]);
    // --tag of an absent tag in an empty root takes no lock either.
    let out = run(root.path(), NOW, &["--tag", "7"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("tag 7: error: no tag directory"));
    assert_eq!(list(root.path()), ["5", "README", "old"]);
}

#[test]
fn same_tag_number_twice_is_an_error_for_that_tag() {
    let root = temp_copy("netprofile/root");
    fs::create_dir(root.path().join("003")).unwrap();
    fs::copy(
        root.path().join("3/data.csv"),
        root.path().join("003/data.csv"),
    )
    .unwrap();
    for args in [&[][..], &["--tag", "3", "--tag", "1"]] {
        let out = run(root.path(), NOW, args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("tag 3: error: directories 003, 3 all name tag 3"),
            "{stderr}"
        );
        assert!(root.path().join("1").join(PROFILE).is_file());
        assert!(!root.path().join("3/latest.json").exists());
        assert!(!root.path().join("003/latest.json").exists());
    }
}

#[test]
fn an_unterminated_last_line_is_no_warning() {
    let root = temp_copy("netprofile/root");
    let path = root.path().join("1/data.csv");
    let data = fs::read_to_string(&path).unwrap();
    // The logger is mid-row: the last line is cut short.
    fs::write(&path, &data[..data.len() - 20]).unwrap();
    let out = run(root.path(), NOW, &["--tag", "1"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "only the summary line: {stderr}");
    let out = run(root.path(), "2026-01-02T04:00:00", &["--tag", "1", "-v"]);
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("tag 1: last line of data.csv has no line end yet: not counted"),
        "{stderr}"
    );
    let out = run(
        root.path(),
        "2026-01-02T05:00:00",
        &["--tag", "1", "--summary-json", "-"],
    );
    let doc = Json::parse(&text(&out).0);
    let rows = tag(&doc, "1").get("rows");
    assert_eq!(
        rows.get("unterminated_last_line"),
        &Json::Literal("true".into())
    );
    assert_eq!(rows.get("malformed").num(), 0.0);
}

#[test]
fn complete_only_keeps_the_previous_files_of_incomplete_tags() {
    let root = temp_copy("netprofile/root");
    let dir3 = root.path().join("3");
    let old = "profile-2020-01-01T00:00:00.json";
    fs::write(dir3.join(old), "{}\n").unwrap();
    std::os::unix::fs::symlink(old, dir3.join("latest.json")).unwrap();
    let before = list(&dir3);
    let out = run(root.path(), NOW, &["--complete-only"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "tag 3: error: incomplete profile not written (--complete-only): \
             no forecast for ICMP bytes, ICMP packets, ICMP flow_count"
        ),
        "{stderr}"
    );
    assert_eq!(list(&dir3), before);
    assert_eq!(
        fs::read_link(dir3.join("latest.json")).unwrap(),
        Path::new(old)
    );
    for t in ["1", "2"] {
        assert!(root.path().join(t).join(PROFILE).is_file());
    }
}

#[test]
fn evaluate_says_why_there_is_no_score_and_counts_like_a_run() {
    let root = temp_copy("netprofile/root");
    // Tag 4: the first 60 hours of tag 1, too short for a 3-day backtest.
    let data = fs::read_to_string(root.path().join("1/data.csv")).unwrap();
    let first = parse_timestamp(b"2018-08-19T18:00:00").unwrap();
    let short: String = data
        .lines()
        .enumerate()
        .filter(|(i, l)| {
            *i == 0
                || parse_timestamp(l.split(',').nth(1).unwrap().as_bytes()).unwrap()
                    < first + 60 * HOUR_US
        })
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    fs::create_dir(root.path().join("4")).unwrap();
    fs::write(root.path().join("4/data.csv"), short).unwrap();
    let out = run(root.path(), NOW, &["--evaluate", "--evaluate-days", "3"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr
            .contains("tag 4: warning: ICMP bytes: no score: history shorter than an origin needs"),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("tag 4: warning:"))
            .count(),
        9
    );
    assert!(!stdout.lines().any(|l| l.starts_with("4 ")), "{stdout}");
    // The same warnings as a normal run.
    assert!(stderr.contains("tag 2: warning:") && stderr.contains("skipped 4 malformed row(s)"));
    assert!(stderr.contains("tag 3: warning: ICMP: no rows"));
    assert!(
        stderr.contains("4 tag(s) done, 0 failed, 1 other entries ignored"),
        "{stderr}"
    );
    // The summary says the same per series.
    let sum = root.path().join("summary.json");
    let out = run(
        root.path(),
        NOW,
        &[
            "--evaluate",
            "--evaluate-days",
            "3",
            "-q",
            "--summary-json",
            sum.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let doc = Json::parse(&fs::read_to_string(&sum).unwrap());
    assert_eq!(str_of(doc.get("mode")), "evaluate");
    assert_eq!(doc.get("options").get("evaluate_days").num(), 3.0);
    let s4 = arr(tag(&doc, "4").get("series"));
    assert!(s4.iter().all(|s| str_of(s.get("status")) == "left_out"
        && str_of(s.get("reason")).starts_with("no score: history shorter")));
    let s1 = arr(tag(&doc, "1").get("series"));
    let table = text(&out).0;
    assert!(s1.iter().all(|s| str_of(s.get("status")) == "scored"));
    // Each scored series names the model of the table's last column.
    for s in s1 {
        let (protocol, metric) = (str_of(s.get("protocol")), str_of(s.get("metric")));
        let named = table.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 9
                && f[0] == "1"
                && f[1] == protocol
                && f[2] == metric
                && f[8] == str_of(s.get("model"))
        });
        assert!(named, "{protocol} {metric}: {table}");
    }
    // Tags a normal run fails, --evaluate fails too.
    let broken = temp_copy("netprofile/broken");
    let out = run(broken.path(), NOW, &["--evaluate"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tag 4: error: nothing could be forecast"),
        "{stderr}"
    );
    assert!(stderr.contains("1 tag(s) done, 4 failed"), "{stderr}");
}

#[test]
fn options_that_do_not_apply_are_usage_errors() {
    let root = temp_copy("netprofile/root");
    for args in [
        &["--evaluate", "--keep", "3"][..],
        &["--evaluate", "--max-age", "2"],
        &["--evaluate", "--complete-only"],
        &["--evaluate", "--summary-json", "-"],
        &["-q", "-v"],
        &["--max-age", "0"],
    ] {
        let out = run(root.path(), NOW, args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
    }
    assert!(!root.path().join("1/latest.json").exists());
}

/// README and docs show real output of the shipped data: the start of tag
/// 1's profile and the built-in accuracy check on the CESNET file.
#[test]
fn readme_examples_match_the_shipped_data() {
    let readme = fs::read_to_string(crate::util::testdata("../README.md")).unwrap();
    let reference = fs::read_to_string(crate::util::testdata("../docs/netprofile.md")).unwrap();
    let accuracy = fs::read_to_string(crate::util::testdata("../docs/accuracy.md")).unwrap();
    let root = temp_copy("netprofile/root");
    assert_eq!(run(root.path(), NOW, &["-q"]).status.code(), Some(0));
    let profile = fs::read_to_string(root.path().join("1/latest.json")).unwrap();
    let first_point_end = profile.find('}').unwrap() + 1;
    let start = &profile[..first_point_end];
    assert!(
        start.starts_with("{\"ICMP\": {\"bytes\": {\"2018-"),
        "{start}"
    );
    assert!(
        readme.contains(start),
        "README's example profile is stale: {start}"
    );
    assert!(
        reference.contains(start),
        "docs/netprofile.md's example profile is stale: {start}"
    );
    let out = run(
        &crate::util::testdata("netprofile/cesnet"),
        NOW,
        &["--evaluate"],
    );
    let (table, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(table.lines().count(), 11, "{table}");
    assert!(
        accuracy.contains(&format!("```\n{table}```")),
        "docs/accuracy.md's accuracy check is stale:\n{table}"
    );
}

#[test]
fn an_unwritable_summary_is_an_error() {
    let root = temp_copy("netprofile/root");
    let path = root.path().join("no-such-dir/summary.json");
    let out = run(
        root.path(),
        NOW,
        &["--tag", "1", "--summary-json", path.to_str().unwrap()],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--summary-json: cannot write") && stderr.contains("summary.json"),
        "{stderr}"
    );
    // The profile itself was written.
    assert!(root.path().join("1").join(PROFILE).is_file());
}
