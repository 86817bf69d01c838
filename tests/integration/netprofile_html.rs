//! `netprofile --check --html FILE`: the overview page, loaded in a real
//! headless browser (Debian's `chromium`, installed by
//! scripts/install-test-servers.sh): it renders, every tag is present, the
//! tags out of profile come first with their pictures, and the browser
//! logs no console message.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::netprofile;
use crate::util::text;

const HEADER: &str =
    "uint64 BYTES,time TIME_FIRST,time TIME_LAST,uint32 COUNT,uint32 PACKETS,uint8 PROTOCOL\n";

/// TCP rows at 00:00..=hours-1 of 2026-01-01 (all metrics 100), then
/// `tail` rows of value `v`.
fn data(hours: u32, tail: &[u64]) -> String {
    let mut csv = String::from(HEADER);
    let values = (0..hours).map(|_| 100).chain(tail.iter().copied());
    for (h, v) in values.enumerate() {
        let (d, h) = (1 + h / 24, h % 24);
        csv += &format!("{v},2026-01-{d:02}T{h:02}:00:00,2026-01-{d:02}T{h:02}:59:00,{v},{v},6\n");
    }
    csv
}

/// [`netprofile::run`], which must not end in a usage or operator error.
fn run(root: &Path, now: &str, args: &[&str]) -> std::process::Output {
    let out = netprofile::run(root, now, args);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        text(&out).1
    );
    out
}

/// Runs chromium headless on `page`: (DOM, console lines of its log).
fn browse(page: &Path, extra: &[&str]) -> (String, Vec<String>) {
    let out = Command::new("chromium")
        .args(["--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", page.with_extension("profile").display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run chromium ({e}): install it with scripts/install-test-servers.sh (apt-get install chromium)")
        });
    let (dom, log) = text(&out);
    let console: Vec<String> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    assert!(
        out.status.success() || !console.is_empty(),
        "chromium failed: {log}"
    );
    (dom, console)
}

#[test]
fn the_overview_renders_every_tag_out_of_profile_first() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // Tags 1-4 steady for 3 days; tag 3 then falls to 10 for 2 hours.
    for tag in 1..=4 {
        let dir = r.join(tag.to_string());
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("data.csv"), data(72, &[])).unwrap();
    }
    run(r, "2026-01-03T23:30:00", &["-q", "--plot"]);
    fs::write(r.join("3/data.csv"), data(72, &[10, 10])).unwrap();
    fs::write(r.join("4/data.csv"), data(72, &[100, 100])).unwrap();
    // Tag 4's profile is truncated: its check fails.
    let p4 = r.join("4/profile-2026-01-03T23:30:00.json");
    let p = fs::read_to_string(&p4).unwrap();
    fs::write(&p4, &p[..p.len() / 2]).unwrap();
    let page = r.join("overview.html");
    let out = run(
        r,
        "2026-01-04T02:05:00",
        &["-q", "--check", "--html", page.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "tag 4 failed: {}", text(&out).1);
    let html = fs::read_to_string(&page).unwrap();
    for fetch in ["<script", "<link", "src=", "url(", "<img", "<iframe"] {
        assert!(!html.contains(fetch), "{fetch} in the page");
    }
    let (dom, console) = browse(&page, &["--dump-dom"]);
    assert!(console.is_empty(), "{console:?}");
    assert!(
        dom.contains("<h1>netprofile: 4 tag(s), 1 out of profile, 1 failed</h1>"),
        "{dom}"
    );
    for tag in 1..=4 {
        assert!(dom.contains(&format!("id=\"row-{tag}\"")), "tag {tag}");
    }
    // Out of profile and failed first (sections and table rows), tag 3's
    // picture inline, links to the pictures beside the page.
    let pos = |s: &str| dom.find(s).unwrap_or_else(|| panic!("{s} not in the page"));
    assert!(pos("id=\"tag-3\"") < pos("id=\"tag-4\""));
    assert!(pos("id=\"row-3\"") < pos("id=\"row-4\""));
    assert!(pos("id=\"row-4\"") < pos("id=\"row-1\""));
    assert!(pos("id=\"row-1\"") < pos("id=\"row-2\""));
    assert!(dom.contains("TCP below its profile since 2026-01-04T00:00:00 UTC (2 h"));
    assert_eq!(
        dom.matches("<svg").count(),
        1,
        "only tag 3's picture inline"
    );
    assert!(dom.contains("href=\"1/latest.svg\""));
    assert!(dom.contains("check failed: profile"));
    // A screenshot renders (look at it: target/netprofile-overview.png).
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/netprofile-overview.png");
    let arg = format!("--screenshot={}", shot.display());
    let (_, console) = browse(&page, &[&arg, "--window-size=1280,1400"]);
    assert!(console.is_empty(), "{console:?}");
    assert!(fs::metadata(&shot).unwrap().len() > 10_000);
}

#[test]
fn the_browser_log_shows_console_errors() {
    // The method above must see an error when there is one.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    fs::write(
        &page,
        "<!DOCTYPE html><p>x</p><script>console.error('boom')</script>",
    )
    .unwrap();
    let (dom, console) = browse(&page, &["--dump-dom"]);
    assert!(
        console.iter().any(|l| l.contains("boom")),
        "{console:?} {dom}"
    );
}

#[test]
fn evaluate_check_replays_hour_by_hour_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("1");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("data.csv"), data(72, &[10, 10])).unwrap();
    // The replay ends with the data, whatever the clock (a day after it).
    let out = netprofile::run(
        root.path(),
        "2026-01-05T00:00:00",
        &["--evaluate-check", "1"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Rows 2026-01-04 00:00 and 01:00 at a tenth of a flat series: the
    // run at 02:00 (the first to see the 01:00 row, complete at 01:59)
    // prints the start; the profile in force for each was written at the
    // hour before it.
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["run"], "2026-01-04T02:00:00");
    assert_eq!(lines[0]["event"], "start");
    assert_eq!(lines[0]["start"], "2026-01-04T00:00:00");
    assert_eq!(lines[0]["direction"], "below");
    assert!(stderr.contains("1 episode(s) started"), "{stderr}");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["data.csv"]);
    assert!(!root.path().join(".netprofile.lock").exists());
}
