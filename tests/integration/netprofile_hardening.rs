//! netprofile under concurrency, kills, odd clocks and failing outputs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use telescope_core::netprofile::time::{format_timestamp, parse_timestamp};
use telescope_core::netprofile::{RootLock, TryLock, LOCK_FILE};

use crate::support::netprofile::{self, run, HOUR_US, NOW, PROFILE};
use crate::util::{bin, list, temp_copy, testdata, text, Checked, Json};

const HEADER: &str =
    "uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL\n";

fn ts(s: &str) -> i64 {
    parse_timestamp(s.as_bytes()).unwrap()
}

/// netprofile on `root` with `NETPROFILE_NOW=now`, `TZ=tz` and `args`.
fn command(root: &Path, now: &str, tz: &str, args: &[&str]) -> Command {
    let mut c = netprofile::command(root, now, args);
    c.env("TZ", tz);
    c
}

/// `data.csv` text: one row per `(protocol, TIME_FIRST)`, TIME_LAST 59
/// minutes later, values varying with the hour.
fn csv(rows: &[(u8, i64)]) -> String {
    let mut s = HEADER.to_string();
    for &(p, t) in rows {
        let v = 1000 + (t / HOUR_US).rem_euclid(24) as u64 * 37 + u64::from(p);
        s += &format!(
            "{},{},{},{},{},{p}\n",
            v * 100,
            format_timestamp(t),
            format_timestamp(t + 59 * 60_000_000),
            v / 10,
            v
        );
    }
    s
}

/// A data root of `tags` tags, each with `hours` hourly TCP rows from 2026-01-01.
fn synthetic_root(tags: usize, hours: i64) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let start = ts("2026-01-01T00:00:00");
    let rows: Vec<(u8, i64)> = (0..hours).map(|h| (6, start + h * HOUR_US)).collect();
    let text = csv(&rows);
    for t in 1..=tags {
        let dir = root.path().join(t.to_string());
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("data.csv"), &text).unwrap();
    }
    root
}

/// Problems with `dir/latest.json` (must resolve to a complete profile of
/// `protocols`, each metric with `horizon` points) and with every
/// `profile-*.json` (complete JSON) and stray temporary files in `dir`.
fn tag_problems(dir: &Path, protocols: usize, horizon: usize) -> Vec<String> {
    let mut out = Vec::new();
    let complete = |path: &Path| -> Result<(), String> {
        let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let json = std::panic::catch_unwind(|| Json::parse(&text))
            .map_err(|_| format!("{}: not complete JSON", path.display()))?;
        if json.entries().len() != protocols {
            return Err(format!("{}: protocols", path.display()));
        }
        for (_, metrics) in json.entries() {
            if metrics.entries().len() != 3
                || metrics
                    .entries()
                    .iter()
                    .any(|(_, p)| p.entries().len() != horizon)
            {
                return Err(format!("{}: incomplete", path.display()));
            }
        }
        Ok(())
    };
    match fs::read_link(dir.join("latest.json")) {
        Err(e) => out.push(format!("{}/latest.json: {e}", dir.display())),
        Ok(target) => {
            if let Err(e) = complete(&dir.join(target)) {
                out.push(format!("latest.json -> {e}"));
            }
        }
    }
    for name in list(dir) {
        if name.starts_with("profile-") {
            if let Err(e) = complete(&dir.join(&name)) {
                out.push(e);
            }
        } else if name.ends_with(".tmp") || name == "latest.json.new" {
            out.push(format!("{}/{name} left behind", dir.display()));
        }
    }
    out
}

fn lock(root: &Path) -> RootLock {
    match RootLock::try_acquire(root).unwrap() {
        TryLock::Acquired(l) => l,
        TryLock::Held { pid } => panic!("lock held by {pid:?}"),
    }
}

#[test]
fn a_busy_root_fails_with_no_wait_or_after_the_timeout() {
    let root = temp_copy("netprofile/root");
    let held = lock(root.path());
    let me = format!("pid {}", std::process::id());
    let t = Instant::now();
    let out = run(root.path(), NOW, &["--no-wait"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(5), "--no-wait waited");
    assert!(
        stderr.contains(&me) && stderr.contains("--no-wait"),
        "{stderr}"
    );
    let t = Instant::now();
    let out = run(root.path(), NOW, &["--lock-timeout", "1"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert!(
        stderr.contains(&me) && stderr.contains("after 1 s"),
        "{stderr}"
    );
    // Nothing was written or counted.
    for tag in ["1", "2", "3"] {
        assert_eq!(list(&root.path().join(tag)), ["data.csv"], "tag {tag}");
    }
    // --evaluate takes no lock.
    let out = run(root.path(), NOW, &["--evaluate", "--no-wait"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    // By default a run waits, then proceeds once the lock is free.
    let mut waiting = command(root.path(), NOW, "UTC", &["-v"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(700));
    assert!(waiting.try_wait().unwrap().is_none(), "did not wait");
    assert!(!root.path().join("1/latest.json").exists());
    drop(held);
    let out = waiting.wait_with_output().checked();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("waiting up to 3000 s for"), "{stderr}");
    assert!(stderr.contains(&me), "{stderr}");
    // The lock file is neither a tag nor an ignored directory.
    assert!(
        !stderr.contains(&format!("ignored {LOCK_FILE}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 tag(s) done, 0 failed, 1 other entries ignored"),
        "{stderr}"
    );
    assert!(tag_problems(&root.path().join("1"), 3, 24).is_empty());
    // --no-wait and --lock-timeout together are a usage error.
    let out = run(root.path(), NOW, &["--no-wait", "--lock-timeout", "5"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Stress: rounds of 3 runs started together on one root of 100 tags (same
/// and different clocks, with and without --keep). Every run must succeed;
/// afterwards every `latest.json` must resolve to a complete profile, with
/// nothing left over. About 10-20 s (fsyncs dominate).
#[test]
fn concurrent_runs_never_break_a_profile() {
    let tags = 100;
    let root = synthetic_root(tags, 8);
    let start = Instant::now();
    for round in 0..3 {
        let now = |s: u32| format!("2026-01-02T0{round}:00:0{s}");
        let runs: Vec<(String, &[&str])> = vec![
            (now(0), &["-j1"]),
            (now(0), &["-j1", "--keep", "2"]),
            (now(1), &["-j1", "--keep", "1"]),
        ];
        let children: Vec<Child> = runs
            .iter()
            .map(|(n, args)| {
                command(root.path(), n, "UTC", args)
                    .args(["--protocols", "TCP"])
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let failed: Vec<String> = children
            .into_iter()
            .map(|c| c.wait_with_output().checked())
            .filter(|o| o.status.code() != Some(0))
            .map(|o| text(&o).1.lines().take(3).collect::<Vec<_>>().join("\n"))
            .collect();
        let problems: Vec<String> = (1..=tags)
            .flat_map(|t| tag_problems(&root.path().join(t.to_string()), 1, 24))
            .collect();
        assert!(
            problems.is_empty() && failed.is_empty(),
            "round {round}: {} problem(s), first: {:?}; {} failed run(s): {failed:?}",
            problems.len(),
            &problems[..problems.len().min(3)],
            failed.len()
        );
    }
    eprintln!("stress test: {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn the_next_run_removes_what_a_killed_run_left() {
    let root = temp_copy("netprofile/root");
    let dir = root.path().join("1");
    // As a kill -9 leaves them: a partial profile and a dangling new link.
    let tmp = ".profile-2026-01-01T00:00:00.json.4242.tmp";
    fs::write(dir.join(tmp), "{\"ICMP\": {\"bytes\": {\"2018-").unwrap();
    std::os::unix::fs::symlink(
        "profile-2026-01-01T00:00:00.json",
        dir.join("latest.json.new"),
    )
    .unwrap();
    // Not the tool's names, or not in a tag directory: kept.
    for keep in [
        ".profile-notes.tmp",
        "latest.json.new.bak",
        "profile-x.json.1.tmp",
    ] {
        fs::write(dir.join(keep), "x").unwrap();
    }
    fs::write(root.path().join("notes").join(tmp), "x").unwrap();
    fs::write(root.path().join(tmp), "x").unwrap();
    let out = run(root.path(), NOW, &["-v"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("tag 1: removed 2 temporary file(s) left by a killed run"),
        "{stderr}"
    );
    assert_eq!(
        list(&dir),
        [
            ".profile-notes.tmp",
            "data.csv",
            "latest.json",
            "latest.json.new.bak",
            PROFILE,
            "profile-x.json.1.tmp"
        ]
    );
    assert_eq!(list(&root.path().join("notes")), [tmp, "README.txt"]);
    assert!(root.path().join(tmp).exists());
}

#[test]
fn kill_9_mid_write_then_the_next_run_cleans_up() {
    // Big profiles (8,760 hours) so that writes take a while.
    let tags = 12;
    let root = synthetic_root(tags, 30);
    let dirs: Vec<PathBuf> = (1..=tags)
        .map(|t| root.path().join(t.to_string()))
        .collect();
    let temporaries = || -> Vec<PathBuf> {
        dirs.iter()
            .flat_map(|d| fs::read_dir(d).unwrap().flatten().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut attempt = 0;
    let caught = 'outer: loop {
        assert!(Instant::now() < deadline, "no kill landed mid-write");
        attempt += 1;
        let now = format!("2026-01-03T00:00:{:02}", attempt % 60);
        let mut child = command(root.path(), &now, "UTC", &["-j1", "--horizon", "8760"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = rustix::process::Pid::from_child(&child);
        while child.try_wait().unwrap().is_none() {
            thread::sleep(Duration::from_millis(3));
            if rustix::process::kill_process(pid, rustix::process::Signal::STOP).is_err() {
                break;
            }
            let found = temporaries();
            if !found.is_empty() {
                child.kill().unwrap();
                child.wait().unwrap();
                break 'outer found;
            }
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
        }
        child.wait().unwrap();
    };
    eprintln!("kill test: caught a write in run {attempt}");
    assert!(caught[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(".profile-"));
    // The lock died with the killed run: the next one does not wait.
    let args = ["--no-wait", "-v", "--horizon", "3", "--keep", "1"];
    let out = run(root.path(), "2026-01-03T01:00:00", &args);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("left by a killed run"), "{stderr}");
    assert!(temporaries().is_empty(), "{:?}", temporaries());
    for d in &dirs {
        assert_eq!(tag_problems(d, 1, 3), Vec::<String>::new());
    }
}

#[test]
fn rows_after_the_clock_or_in_the_year_10000_are_malformed() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("1");
    fs::create_dir(&dir).unwrap();
    fs::copy(testdata("netprofile/year10000.csv"), dir.join("data.csv")).unwrap();
    let out = run(root.path(), NOW, &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "skipped 1 malformed row(s) (line 101), 1 of them dated before 1970 or after the run's clock"
        ),
        "{stderr}"
    );
    let json = Json::parse(&fs::read_to_string(dir.join(PROFILE)).unwrap());
    // The last ICMP, TCP or UDP row before the bad one.
    let last = ts("2018-08-20T07:37:54.919");
    let mut keys = 0;
    for (proto, metrics) in json.entries() {
        for (_, points) in metrics.entries() {
            for (k, _) in points.entries() {
                assert!(is_isoformat(k), "{proto}: {k}");
                let t = ts(k);
                assert!(
                    t > ts("2018-08-19T00:00:00") && t <= last + 24 * HOUR_US,
                    "{k}"
                );
                keys += 1;
            }
        }
    }
    assert!(keys > 0);
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]`, what Python's `datetime.fromisoformat` reads.
fn is_isoformat(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (b.len() == 19 || (b.len() == 26 && b[19] == b'.' && digits(20..26)))
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
}

/// The first forecast instant of TCP bytes, and stderr.
fn first_forecast(root: &Path, now: &str, tz: &str) -> (i64, String) {
    let out = command(
        root,
        now,
        tz,
        &["--outlier-quantile", "1", "--protocols", "TCP"],
    )
    .output()
    .checked();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{tz}: {stderr}");
    let json = Json::parse(&fs::read_to_string(root.join("1/latest.json")).unwrap());
    (ts(&json.get("TCP").get("bytes").entries()[0].0), stderr)
}

#[test]
fn the_clock_is_local_time_and_rows_are_compared_in_utc() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("1");
    fs::create_dir(&dir).unwrap();
    let start = ts("2026-01-01T00:00:00");
    let rows: Vec<(u8, i64)> = (0..24).map(|h| (6, start + h * HOUR_US)).collect();
    fs::write(dir.join("data.csv"), csv(&rows)).unwrap();
    // 12:00 at UTC+10 is 02:00 UTC: rows up to 03:00 (first and last) are in.
    let (first, stderr) = first_forecast(root.path(), "2026-01-01T12:00:00", "XXX-10");
    assert_eq!(first, ts("2026-01-01T03:00:00"), "{stderr}");
    assert!(stderr.contains("skipped 21 malformed row(s)"), "{stderr}");
    // 12:00 at UTC-10 is 22:00 UTC: only the 23:00-23:59 row is out.
    let (first, stderr) = first_forecast(root.path(), "2026-01-01T12:00:01", "XXX+10");
    assert_eq!(first, ts("2026-01-01T23:00:00"), "{stderr}");
    assert!(
        stderr.contains("skipped 1 malformed row(s) (line 25)"),
        "{stderr}"
    );
    // A named zone (needs the system's tz database, else it reads as UTC).
    if Path::new("/usr/share/zoneinfo/Asia/Tokyo").exists() {
        let (first, _) = first_forecast(root.path(), "2026-01-01T12:00:02", "Asia/Tokyo");
        assert_eq!(first, ts("2026-01-01T04:00:00"));
    }
}

#[test]
fn a_skipped_or_repeated_local_hour_converts_to_the_later_bound() {
    // Europe/Prague: 2026-03-29 02:00 -> 03:00 (+1 -> +2), 2026-10-25
    // 03:00 -> 02:00 (+2 -> +1). 02:30 local: in the gap it is read with the
    // offset from before (01:30 UTC); repeated, it is its later instant
    // (01:30 UTC). Rows up to 02:30 UTC are in: the last starts at 01:00.
    if !Path::new("/usr/share/zoneinfo/Europe/Prague").exists() {
        eprintln!("no tz database: skipped");
        return;
    }
    for day in ["2026-03-29", "2026-10-25"] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("1");
        fs::create_dir(&dir).unwrap();
        let start = ts(&format!("{day}T00:00:00")) - 4 * HOUR_US;
        let rows: Vec<(u8, i64)> = (0..10).map(|h| (6, start + h * HOUR_US)).collect();
        fs::write(dir.join("data.csv"), csv(&rows)).unwrap();
        let now = format!("{day}T02:30:00");
        let (first, stderr) = first_forecast(root.path(), &now, "Europe/Prague");
        assert_eq!(first, ts(&format!("{day}T02:00:00")), "{day}: {stderr}");
    }
}

#[test]
fn a_horizon_past_the_year_9999_leaves_the_series_out() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("1");
    fs::create_dir(&dir).unwrap();
    let tcp = ts("9999-12-31T00:00:00");
    let udp = ts("9999-12-30T00:00:00");
    let mut rows: Vec<(u8, i64)> = (0..10).map(|h| (6, tcp + h * HOUR_US)).collect();
    rows.extend((0..10).map(|h| (17, udp + h * HOUR_US)));
    fs::write(dir.join("data.csv"), csv(&rows)).unwrap();
    let out = run(
        root.path(),
        "9999-12-31T12:00:00",
        &["--protocols", "TCP,UDP", "--outlier-quantile", "1"],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for metric in ["bytes", "packets", "flow_count"] {
        assert!(
            stderr.contains(&format!(
                "TCP {metric}: the horizon would pass the year 9999, left out"
            )),
            "{stderr}"
        );
    }
    let text = fs::read_to_string(dir.join("profile-9999-12-31T12:00:00.json")).unwrap();
    let json = Json::parse(&text);
    assert_eq!(json.keys(), ["UDP"]);
    let points = json.get("UDP").get("bytes").entries();
    assert_eq!(points.last().unwrap().0, "9999-12-31T09:00:00");
    assert!(points.iter().all(|(k, _)| is_isoformat(k)));
}

#[test]
fn evaluate_into_a_full_disk_exits_1() {
    let root = temp_copy("netprofile/root");
    let out = bin("netprofile")
        .args(["--evaluate", "--evaluate-days", "1"])
        .arg(root.path())
        .stdout(fs::File::create("/dev/full").unwrap())
        .output()
        .checked();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: cannot write to stdout: No space left on device"),
        "{stderr}"
    );
}

/// Each stderr line names an OS error at most once.
fn assert_no_repeated_cause(stderr: &str) {
    for line in stderr.lines() {
        assert!(line.matches("(os error").count() <= 1, "{line}");
    }
}

#[test]
fn errors_name_their_path_once_with_one_cause() {
    let root = temp_copy("netprofile/root");
    // latest.json.new is a directory: the error is about it, not latest.json.
    fs::create_dir(root.path().join("1/latest.json.new")).unwrap();
    fs::remove_file(root.path().join("2/data.csv")).unwrap();
    fs::create_dir(root.path().join("2/data.csv")).unwrap();
    let out = run(root.path(), NOW, &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let new = root.path().join("1/latest.json.new");
    assert!(
        stderr.contains(&format!(
            "tag 1: error: cannot write {}: Is a directory",
            new.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("tag 2: error: cannot read"), "{stderr}");
    assert_no_repeated_cause(&stderr);
    // The lock file is not a regular file: a clear error naming it, exit 2.
    fs::remove_file(root.path().join(LOCK_FILE)).unwrap();
    fs::create_dir(root.path().join(LOCK_FILE)).unwrap();
    let out = run(root.path(), NOW, &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lock = root.path().join(LOCK_FILE);
    assert!(
        stderr.contains(&format!(
            "error: cannot lock {}: it is a directory, not a regular file: refused",
            lock.display()
        )),
        "{stderr}"
    );
    assert_no_repeated_cause(&stderr);
    let out = run(&root.path().join("none"), NOW, &[]);
    assert_no_repeated_cause(&text(&out).1);
}
