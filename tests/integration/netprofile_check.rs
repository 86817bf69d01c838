//! `netprofile --check`: episodes worked out by hand from crafted rows and
//! profiles, the state kept between runs, bad profiles and exit codes.

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use crate::support::netprofile;
use crate::util::text;

const HEADER: &str =
    "uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL\n";

/// A row of protocol `proto` starting at `2026-01-01T<hh:mm>`, all three
/// metrics `v`.
fn row(proto: u8, hhmm: &str, v: u64) -> String {
    let (h, m) = hhmm.split_once(':').unwrap();
    let h: u32 = h.parse().unwrap();
    format!("{v},2026-01-01T{h:02}:{m}:00,2026-01-01T{h:02}:{m}:59,{v},{v},{proto}\n")
}

/// A profile of TCP: at every hour of `hours` (2026-01-01) all three
/// metrics `(yhat, lower, upper)`, except those `over` sets.
fn profile(hours: &[u32], band: (f64, f64, f64), over: &[(u32, &str, (f64, f64, f64))]) -> String {
    let mut metrics = serde_json::Map::new();
    for m in ["bytes", "packets", "flow_count"] {
        let mut points = serde_json::Map::new();
        for &h in hours {
            let (y, lo, hi) = over
                .iter()
                .find(|(oh, om, _)| *oh == h && *om == m)
                .map_or(band, |o| o.2);
            points.insert(
                format!("2026-01-01T{h:02}:00:00"),
                json!({"yhat": y, "yhat_lower": lo, "yhat_upper": hi}),
            );
        }
        metrics.insert(m.into(), Value::Object(points));
    }
    format!("{}\n", json!({ "TCP": metrics }))
}

/// `netprofile --check EXTRA ROOT` at `now`.
fn check(root: &Path, now: &str, extra: &[&str]) -> Output {
    let args: Vec<&str> = std::iter::once("--check")
        .chain(extra.iter().copied())
        .collect();
    netprofile::run(root, now, &args)
}

fn lines(out: &Output) -> Vec<Value> {
    let (stdout, _) = text(out);
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const BAND: (f64, f64, f64) = (100.0, 50.0, 200.0);

/// Tag 1: TCP rows 01:00-08:00 with a surge at 03:00-04:00 (x10) and a
/// tail at 05:00 (210, just above the band), a repeated 08:10 row and one
/// UDP row (no UDP in any profile).
fn setup(root: &Path) {
    let dir = root.join("1");
    fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from(HEADER);
    for (hhmm, v) in [
        ("01:00", 100),
        ("02:00", 100),
        ("03:00", 1000),
        ("04:00", 1000),
        ("05:00", 210),
        ("06:00", 100),
        ("07:00", 100),
        ("08:00", 100),
        ("08:10", 100),
    ] {
        csv += &row(6, hhmm, v);
    }
    csv += &row(17, "01:00", 5);
    fs::write(dir.join("data.csv"), csv).unwrap();
    let all: Vec<u32> = (1..=23).collect();
    // P0 (00:05) covers every hour; P1 (02:30, newer) too, but its bytes
    // band at 03:00 holds 1000: row 03:00 is out in packets and flow_count
    // only. P2 (03:30) holds only a 03:00 point, written after row 03:00:
    // never in force (nor for 04:00: no point within 30 minutes).
    fs::write(
        dir.join("profile-2026-01-01T00:05:00.json"),
        profile(&all, BAND, &[]),
    )
    .unwrap();
    let wide = (100.0, 0.0, 1e9);
    fs::write(
        dir.join("profile-2026-01-01T02:30:00.json"),
        profile(&all[2..], BAND, &[(3, "bytes", wide)]),
    )
    .unwrap();
    fs::write(
        dir.join("profile-2026-01-01T03:30:00.json"),
        profile(&[3], (1000.0, 900.0, 1100.0), &[]),
    )
    .unwrap();
}

#[test]
fn a_surge_is_one_episode_printed_once() {
    let root = tempfile::tempdir().unwrap();
    setup(root.path());
    let summary = root.path().join("s.json");
    let s = summary.to_str().unwrap();
    let out = check(root.path(), "2026-01-01T09:10:00", &["--summary-json", s]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let got = lines(&out);
    assert_eq!(got.len(), 2, "{got:?}");
    // Rows 03:00 and 04:00 out (grace 2): the start printed with row 04:00's
    // figures: ln(1000/100)/ln(200/100) = 3.3219...
    let start = &got[0];
    assert_eq!(start["event"], "start");
    assert_eq!(start["tag"], "1");
    assert_eq!(start["protocol"], "TCP");
    assert_eq!(start["start"], "2026-01-01T03:00:00");
    assert_eq!(start["time"], "2026-01-01T04:00:00");
    assert_eq!(start["hours"], 2);
    assert_eq!(start["direction"], "above");
    assert_eq!(start["metric"], json!(["bytes", "packets", "flow_count"]));
    assert_eq!(start["value"]["bytes"], 1000.0);
    assert_eq!(start["yhat_upper"]["flow_count"], 200.0);
    assert_eq!(start["severity"], 3.322);
    // 05:00 (210 > 200) keeps it open; 06:00 and 07:00 inside close it.
    // The peak stays row 03:00 (first at the top severity), out in
    // packets and flow_count only under P1.
    let end = &got[1];
    assert_eq!(end["event"], "end");
    assert_eq!(end["start"], "2026-01-01T03:00:00");
    assert_eq!(end["hours"], 3);
    assert_eq!(end["last"], "2026-01-01T05:00:00");
    assert_eq!(end["time"], "2026-01-01T03:00:00");
    assert_eq!(end["metric"], json!(["packets", "flow_count"]));
    let doc: Value = serde_json::from_str(&fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(doc["mode"], "check");
    let t = &doc["tags"][0];
    assert_eq!(t["checked_rows"], 8);
    assert_eq!(t["rows_without_profile"], 1, "the UDP row");
    assert_eq!(t["repeated_rows"], 1, "08:10");
    assert_eq!(t["alerts_started"], 1);
    assert_eq!(t["open_episodes"], 0);
    // Checked once: the same clock, or later with no new row, prints nothing.
    for now in ["2026-01-01T09:10:00", "2026-01-01T10:10:00"] {
        let again = check(root.path(), now, &[]);
        assert_eq!(again.status.code(), Some(0));
        assert!(lines(&again).is_empty(), "{now}: {}", text(&again).0);
    }
    let names: Vec<String> = fs::read_dir(root.path().join("1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn later_rows_continue_from_the_saved_state() {
    let root = tempfile::tempdir().unwrap();
    setup(root.path());
    let data = root.path().join("1/data.csv");
    assert_eq!(
        check(root.path(), "2026-01-01T09:10:00", &[]).status.code(),
        Some(0)
    );
    // A drop to 10 at 09:00 and 10:00 (severity ln(100/10)/ln(100/50)),
    // and a late 05:30 row (before the newest checked): never checked.
    let mut csv = fs::read_to_string(&data).unwrap();
    csv += &row(6, "09:00", 10);
    csv += &row(6, "05:30", 5000);
    fs::write(&data, &csv).unwrap();
    let out = check(root.path(), "2026-01-01T10:05:00", &[]);
    assert!(lines(&out).is_empty(), "one row below: pending only");
    csv += &row(6, "10:00", 10);
    fs::write(&data, &csv).unwrap();
    let summary = root.path().join("s.json");
    let out = check(
        root.path(),
        "2026-01-01T11:05:00",
        &["--summary-json", summary.to_str().unwrap()],
    );
    let got = lines(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "start");
    assert_eq!(got[0]["direction"], "below");
    assert_eq!(got[0]["start"], "2026-01-01T09:00:00");
    assert_eq!(got[0]["hours"], 2);
    assert_eq!(got[0]["severity"], 3.322);
    let doc: Value = serde_json::from_str(&fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(doc["tags"][0]["checked_rows"], 1);
    assert_eq!(doc["tags"][0]["open_episodes"], 1);
    // A clock earlier than the last check: a warning, nothing printed again.
    let out = check(root.path(), "2026-01-01T10:30:00", &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!((out.status.code(), stdout.as_str()), (Some(0), ""));
    assert!(stderr.contains("earlier than the last check"), "{stderr}");
}

#[test]
fn a_bad_profile_fails_its_tag_only_and_marks_nothing() {
    let root = tempfile::tempdir().unwrap();
    setup(root.path());
    let good = fs::read_to_string(root.path().join("1/profile-2026-01-01T00:05:00.json")).unwrap();
    let csv = fs::read_to_string(root.path().join("1/data.csv")).unwrap();
    for (tag, contents) in [
        ("2", good[..good.len() / 2].to_string()),
        ("3", "<html>".to_string()),
        (
            "4",
            "{\"TCP\": {\"bytes\": {\"2026-01-01T03:00:00\": {\"mean\": 1}}}}".to_string(),
        ),
    ] {
        let dir = root.path().join(tag);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("data.csv"), &csv).unwrap();
        fs::write(dir.join("profile-2026-01-01T02:30:00.json"), contents).unwrap();
    }
    let out = check(root.path(), "2026-01-01T09:10:00", &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(lines(&out).len(), 2, "tag 1 still checked");
    for (tag, why) in [("2", "truncated"), ("3", "not JSON"), ("4", "no yhat")] {
        let file = root
            .path()
            .join(tag)
            .join("profile-2026-01-01T02:30:00.json");
        assert!(
            stderr.lines().any(|l| l.starts_with(&format!(
                "netprofile: tag {tag}: error: profile {}: ",
                file.display()
            )) && l.contains(why)),
            "{tag}: {stderr}"
        );
        assert!(!root
            .path()
            .join(tag)
            .join(".netprofile-check.json")
            .exists());
    }
    assert!(root.path().join("1/.netprofile-check.json").exists());
}

#[test]
fn alerts_not_saved_are_printed_again_never_lost() {
    let root = tempfile::tempdir().unwrap();
    setup(root.path());
    // The state reads (an empty state through a symlink) but cannot be
    // replaced (a symlink is refused): the tag fails (exit 2: a path
    // netprofile writes is not a regular file) after its lines were
    // printed, and the next run prints them again.
    let state = root.path().join("1/.netprofile-check.json");
    let empty = root.path().join("empty-state.json");
    fs::write(
        &empty,
        "{\"version\":1,\"last_check\":null,\"protocols\":{}}",
    )
    .unwrap();
    std::os::unix::fs::symlink(&empty, &state).unwrap();
    let first = check(root.path(), "2026-01-01T09:10:00", &[]);
    assert_eq!(first.status.code(), Some(2), "{}", text(&first).1);
    assert!(
        text(&first).1.contains("is a symlink"),
        "{}",
        text(&first).1
    );
    fs::remove_file(&state).unwrap();
    let second = check(root.path(), "2026-01-01T09:10:00", &[]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(lines(&first), lines(&second));
    assert_eq!(lines(&second).len(), 2);
}

#[test]
fn check_is_not_combined_with_writing_options() {
    let root = tempfile::tempdir().unwrap();
    setup(root.path());
    for extra in [
        &["--plot"][..],
        &["--keep", "3"],
        &["--summary-json", "-"],
        &["--evaluate"],
    ] {
        let out = check(root.path(), "2026-01-01T09:10:00", extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
    }
}

#[test]
fn idea_messages_appear_complete_in_incoming_only() {
    let root = tempfile::tempdir().unwrap();
    setup(root.path());
    let idea = tempfile::tempdir().unwrap();
    let args = [
        "--idea",
        idea.path().to_str().unwrap(),
        "--idea-node",
        "cz.example.np",
    ];
    let out = check(root.path(), "2026-01-01T09:10:00", &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let names = |d: &str| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(idea.path().join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert!(names("tmp").is_empty());
    let incoming = names("incoming");
    assert_eq!(incoming.len(), 1, "one start, one message: {incoming:?}");
    let msg: Value = serde_json::from_str(
        &fs::read_to_string(idea.path().join("incoming").join(&incoming[0])).unwrap(),
    )
    .unwrap();
    assert_eq!(msg["Format"], "IDEA0");
    let id = msg["ID"].as_str().unwrap();
    assert_eq!(incoming[0], format!("{id}.idea"));
    assert_eq!(id.len(), 36);
    assert_eq!(msg["Category"], json!(["Anomaly.Traffic"]));
    assert_eq!(msg["DetectTime"], "2026-01-01T04:00:00Z");
    assert_eq!(msg["EventTime"], "2026-01-01T03:00:00Z");
    assert_eq!(msg["CreateTime"], "2026-01-01T09:10:00Z");
    assert_eq!(msg["Node"][0]["Name"], "cz.example.np");
    assert!(msg["Description"]
        .as_str()
        .unwrap()
        .contains("tag 1 (TCP) above"));
    let attached: Value =
        serde_json::from_str(msg["Attach"][0]["Content"].as_str().unwrap()).unwrap();
    assert_eq!(attached, lines(&out)[0]);
    // The same episode written again keeps its file.
    fs::remove_file(root.path().join("1/.netprofile-check.json")).unwrap();
    check(root.path(), "2026-01-01T09:10:00", &args);
    assert_eq!(names("incoming"), incoming);
}

#[test]
fn plot_shades_the_hours_a_check_found_out_of_profile() {
    let root = tempfile::tempdir().unwrap();
    setup(root.path());
    let plot = |now: &str| -> String {
        let out = netprofile::run(root.path(), now, &["-q", "--plot", "--tag", "1"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        fs::read_to_string(root.path().join("1/latest.svg")).unwrap()
    };
    let shaded = |svg: &str| svg.matches("fill=\"#FF7F0E\"").count();
    let before = plot("2026-01-01T09:20:00");
    assert_eq!(shaded(&before), 0);
    assert!(!before.contains("hours out of profile"));
    assert_eq!(
        check(root.path(), "2026-01-01T09:30:00", &[]).status.code(),
        Some(0)
    );
    // Rows 03:00, 04:00 (the episode's start) and 05:00 (kept it open), in
    // each of TCP's three panels.
    let after = plot("2026-01-01T09:40:00");
    assert_eq!(shaded(&after), 9, "{after}");
    assert!(after.contains("hours out of profile (orange)"));
}
