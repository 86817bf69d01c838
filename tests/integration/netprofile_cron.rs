//! netprofile under cron (`-q`): a warning is printed when it first appears
//! or changes, and again once a day while it lasts; a clean run prints
//! nothing (not even the lock's "waiting" line); the summary JSON always
//! lists every warning.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use telescope_core::netprofile::{RootLock, TryLock};

use crate::support::netprofile::run;
use crate::util::{bin, temp_copy, text, Json};

/// A `-q` run: its stderr lines, after asserting exit 0.
fn quiet(root: &Path, now: &str) -> Vec<String> {
    let out = run(root, now, &["-q"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{now}: {stderr}");
    assert_eq!(stdout, "");
    stderr.lines().map(str::to_string).collect()
}

fn tag_warnings(doc: &Json, tag: &str) -> Vec<String> {
    let Json::Array(tags) = doc.get("tags") else {
        panic!("tags")
    };
    let t = tags
        .iter()
        .find(|t| *t.get("tag") == Json::Str(tag.into()))
        .unwrap();
    let Json::Array(w) = t.get("warnings") else {
        panic!("warnings")
    };
    w.iter()
        .map(|w| match w {
            Json::Str(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn quiet_runs_print_new_or_changed_warnings_and_a_daily_reminder() {
    let root = temp_copy("netprofile/root");
    let r = root.path();
    // The shipped root warns about tag 2's malformed rows and tag 3's ICMP.
    let first = quiet(r, "2026-01-02T04:00:00");
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(first[0].starts_with("netprofile: tag 2: warning: ") && first[0].contains("malformed"));
    assert!(first[1].starts_with("netprofile: tag 3: warning: ICMP: no rows"));
    // An hour later nothing changed: nothing printed, but the summary
    // still lists every warning.
    let sum_dir = tempfile::tempdir().unwrap();
    let sum = sum_dir.path().join("s.json");
    let out = run(
        r,
        "2026-01-02T05:00:00",
        &["-q", "--summary-json", sum.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out).1, "");
    let doc = Json::parse(&fs::read_to_string(&sum).unwrap());
    let printed = |line: &str| line.split_once(": warning: ").unwrap().1.to_string();
    assert_eq!(tag_warnings(&doc, "2"), [printed(&first[0])]);
    assert_eq!(tag_warnings(&doc, "3"), [printed(&first[1])]);
    // One more malformed row in tag 2: its changed warning alone.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(r.join("2/data.csv"))
        .unwrap();
    f.write_all(b"not,a,row\n").unwrap();
    let changed = quiet(r, "2026-01-02T06:00:00");
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].starts_with("netprofile: tag 2: warning: "));
    assert_ne!(changed[0], first[0]);
    // Nothing at 23 h; tag 3's reminder 23.5 h after it was printed;
    // tag 2's 23.5 h after its change.
    assert_eq!(quiet(r, "2026-01-03T03:00:00"), Vec::<String>::new());
    assert_eq!(quiet(r, "2026-01-03T03:30:00"), [first[1].clone()]);
    assert_eq!(quiet(r, "2026-01-03T05:00:00"), Vec::<String>::new());
    assert_eq!(quiet(r, "2026-01-03T05:30:00"), [changed[0].clone()]);
    // A run without -q prints everything and leaves the state alone.
    let out = run(r, "2026-01-03T06:00:00", &[]);
    let (_, stderr) = text(&out);
    assert_eq!(stderr.matches(": warning: ").count(), 2, "{stderr}");
    assert_eq!(quiet(r, "2026-01-03T06:30:00"), Vec::<String>::new());
    // A warning that goes away and comes back is new again.
    let data = fs::read_to_string(r.join("3/data.csv")).unwrap();
    let icmp_row = "0,2018-08-28T18:00:00.000,2018-08-28T18:59:00.000,1,1,1\n";
    fs::write(r.join("3/data.csv"), format!("{data}{icmp_row}")).unwrap();
    let gone = quiet(r, "2026-01-03T07:00:00");
    assert!(
        gone.iter().all(|l| !l.contains("ICMP: no rows")),
        "{gone:?}"
    );
    fs::write(r.join("3/data.csv"), &data).unwrap();
    let back = quiet(r, "2026-01-03T08:00:00");
    assert!(back.contains(&first[1]), "{back:?}");
    // The state file is netprofile's own: neither a tag nor an ignored entry.
    assert!(r.join(".netprofile-warnings.json").is_file());
    let out = run(r, "2026-01-03T09:00:00", &["-v"]);
    let (_, stderr) = text(&out);
    assert!(stderr.contains("1 other entries ignored"), "{stderr}");
    assert!(!stderr.contains("ignored .netprofile"), "{stderr}");
}

#[test]
fn quiet_runs_do_not_say_they_wait_for_the_lock() {
    let root = temp_copy("netprofile/root");
    let TryLock::Acquired(held) = RootLock::try_acquire(root.path()).unwrap() else {
        panic!("free root");
    };
    let child = bin("netprofile")
        .env("NETPROFILE_NOW", "2026-01-02T04:00:00")
        .env("TZ", "UTC")
        .args(["-q", "--tag", "1"])
        .arg(root.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(700));
    assert!(!root.path().join("1/latest.json").exists(), "did not wait");
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out).1, "");
    assert!(root.path().join("1/latest.json").exists());
}
