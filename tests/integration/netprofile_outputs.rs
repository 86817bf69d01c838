//! netprofile never turns a path that is not a regular file into one:
//! `--summary-json` follows symlinks and writes through FIFOs (never
//! waiting for a reader) and refuses sockets and directories; the files it
//! owns (profiles, pictures, `latest.*`, the lock, the warnings state) are
//! refused with exit 2 when something else stands at their path.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::netprofile::{self, run, NOW, PROFILE};
use crate::util::{list, temp_copy, text, Json};

const PICTURE: &str = "profile-2026-01-02T03:04:05.123456.svg";

/// [`run`], failing (and killing it) if it takes more than 30 s: a run
/// that waits on a FIFO fails the test instead of hanging it.
fn run_within_30s(root: &Path, args: &[&str]) -> Output {
    let mut child = netprofile::command(root, NOW, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("netprofile {args:?} still running after 30 s (waiting on a FIFO?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

fn is_fifo(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

fn is_socket(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// Runs with `--summary-json path`; asserts the profiles were written.
fn run_with_summary(root: &Path, path: &Path) -> (Option<i32>, String, Duration) {
    let t = Instant::now();
    let out = run_within_30s(
        root,
        &["--tag", "1", "--summary-json", path.to_str().unwrap()],
    );
    assert!(root.join("1").join(PROFILE).is_file());
    (out.status.code(), text(&out).1, t.elapsed())
}

#[test]
fn summary_json_into_a_fifo_is_written_through_never_awaited() {
    let root = temp_copy("netprofile/root");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("summary.fifo");
    mkfifo(&fifo);
    // No reader: exit 2 at once, the FIFO left as it is.
    let (code, stderr, took) = run_with_summary(root.path(), &fifo);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(took < Duration::from_secs(10), "waited {took:?}");
    assert!(
        stderr.contains(&format!(
            "--summary-json: {} is a FIFO with no reader",
            fifo.display()
        )),
        "{stderr}"
    );
    assert!(is_fifo(&fifo));
    // With a reader: the document goes through the FIFO.
    let mut reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&fifo)
        .unwrap();
    let (code, stderr, _) = run_with_summary(root.path(), &fifo);
    assert_eq!(code, Some(0), "{stderr}");
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    let doc = Json::parse(&got);
    assert_eq!(doc.get("exit_code").num(), 0.0);
    assert!(is_fifo(&fifo));
    assert_eq!(list(dir.path()), ["summary.fifo"]);
}

#[test]
fn summary_json_follows_symlinks_and_refuses_sockets_and_directories() {
    let root = temp_copy("netprofile/root");
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    fs::create_dir(&real).unwrap();
    // A symlink to a regular file: the target is replaced, the link stays.
    let target = real.join("summary.json");
    fs::write(&target, "old").unwrap();
    let link = dir.path().join("summary.json");
    std::os::unix::fs::symlink("real/summary.json", &link).unwrap();
    let (code, stderr, _) = run_with_summary(root.path(), &link);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("real/summary.json")
    );
    let doc = Json::parse(&fs::read_to_string(&target).unwrap());
    assert_eq!(doc.get("counts").get("done").num(), 1.0);
    assert_eq!(list(&real), ["summary.json"], "no temporary left");
    // A dangling symlink: its target is created.
    fs::remove_file(&target).unwrap();
    let (code, stderr, _) = run_with_summary(root.path(), &link);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert!(fs::symlink_metadata(&target).unwrap().is_file());
    // A symlink to a FIFO without a reader: written through, so exit 2.
    fs::remove_file(&target).unwrap();
    mkfifo(&target);
    let (code, stderr, _) = run_with_summary(root.path(), &link);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is a FIFO with no reader"), "{stderr}");
    assert!(is_fifo(&target));
    // A unix socket (listening or not) and a directory: refused.
    let sock = dir.path().join("summary.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let (code, stderr, _) = run_with_summary(root.path(), &sock);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--summary-json: {} is a socket, not a regular file: refused",
            sock.display()
        )),
        "{stderr}"
    );
    assert!(is_socket(&sock));
    drop(listener);
    let (code, _, _) = run_with_summary(root.path(), &sock);
    assert_eq!(code, Some(2));
    assert!(is_socket(&sock));
    let (code, stderr, _) = run_with_summary(root.path(), &real);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is a directory, not a regular file"),
        "{stderr}"
    );
    assert_eq!(list(&real), ["summary.json"]);
}

/// A stale temporary file of a killed run beside the summary (a dead pid)
/// is removed; one of a live process is not; a symlink at our own
/// temporary name is never written through.
#[test]
fn summary_json_cleans_only_dead_runs_temporaries() {
    let root = temp_copy("netprofile/root");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let live = format!(".s.json.{}.tmp", std::process::id());
    // 4194304 is above Linux's largest pid: no such process.
    fs::write(dir.path().join(".s.json.4194304.tmp"), "{\"sch").unwrap();
    fs::write(dir.path().join(&live), "x").unwrap();
    let victim = dir.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join(".s.json.4194303.tmp")).unwrap();
    let (code, stderr, _) = run_with_summary(root.path(), &path);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(list(dir.path()), [live.as_str(), "s.json", "victim"]);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn a_tag_whose_outputs_are_not_regular_files_is_refused_with_exit_2() {
    let root = temp_copy("netprofile/root");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.json");
    fs::write(&victim, "precious").unwrap();
    // Tag 1: a FIFO at the new profile's name; tag 2: a symlink there;
    // tag 3: a socket at latest.json.
    mkfifo(&root.path().join("1").join(PROFILE));
    std::os::unix::fs::symlink(&victim, root.path().join("2").join(PROFILE)).unwrap();
    let sock = root.path().join("3/latest.json");
    let _listener = UnixListener::bind(&sock).unwrap();
    let before: Vec<Vec<String>> = ["1", "2", "3"]
        .iter()
        .map(|t| list(&root.path().join(t)))
        .collect();
    let out = run_within_30s(root.path(), &["--plot"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for (tag, name, kind) in [
        ("1", PROFILE, "a FIFO"),
        ("2", PROFILE, "a symlink"),
        ("3", "latest.json", "a socket"),
    ] {
        let path = root.path().join(tag).join(name);
        assert!(
            stderr.contains(&format!(
                "tag {tag}: error: {} is {kind}, not a regular file: refused",
                path.display()
            )),
            "{stderr}"
        );
    }
    for (i, tag) in ["1", "2", "3"].iter().enumerate() {
        assert_eq!(list(&root.path().join(tag)), before[i], "tag {tag}");
    }
    assert!(is_fifo(&root.path().join("1").join(PROFILE)));
    assert!(is_socket(&sock));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    // Pictures: a FIFO at the new picture's name, a socket at latest.svg.
    let root = temp_copy("netprofile/root");
    mkfifo(&root.path().join("1").join(PICTURE));
    let sock = root.path().join("2/latest.svg");
    let _listener = UnixListener::bind(&sock).unwrap();
    let out = run_within_30s(root.path(), &["--plot"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is a FIFO, not a regular file"), "{stderr}");
    assert!(
        stderr.contains("is a socket, not a regular file"),
        "{stderr}"
    );
    assert_eq!(list(&root.path().join("1")), ["data.csv", PICTURE]);
    assert!(is_fifo(&root.path().join("1").join(PICTURE)));
    assert_eq!(list(&root.path().join("2")), ["data.csv", "latest.svg"]);
    // Tag 3 was written.
    assert!(root.path().join("3").join(PROFILE).is_file());
    assert!(root.path().join("3").join(PICTURE).is_file());
}

/// Input too: a FIFO as data.csv fails its tag at once (never a hung cron
/// job); a symlink to a regular data.csv is read.
#[test]
fn a_data_csv_that_is_not_a_regular_file_fails_its_tag_without_waiting() {
    let root = temp_copy("netprofile/root");
    let data = root.path().join("1/data.csv");
    fs::remove_file(&data).unwrap();
    mkfifo(&data);
    let elsewhere = root.path().join("notes/data3.csv");
    fs::rename(root.path().join("3/data.csv"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.path().join("3/data.csv")).unwrap();
    let out = run_within_30s(root.path(), &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "tag 1: error: cannot read {}: it is a FIFO, not a regular file",
            data.display()
        )),
        "{stderr}"
    );
    assert!(root.path().join("2").join(PROFILE).is_file());
    assert!(root.path().join("3").join(PROFILE).is_file());
}

#[test]
fn a_lock_or_state_file_that_is_not_a_regular_file_is_refused() {
    let root = temp_copy("netprofile/root");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    let lock = root.path().join(".netprofile.lock");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let out = run_within_30s(root.path(), &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot lock {}: it is a symlink, not a regular file: refused",
            lock.display()
        )),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    fs::remove_file(&lock).unwrap();
    mkfifo(&lock);
    let out = run_within_30s(root.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(text(&out).1.contains("it is a FIFO"));
    fs::remove_file(&lock).unwrap();
    // The -q warnings state: a FIFO there stops the run before any tag.
    let state = root.path().join(".netprofile-warnings.json");
    mkfifo(&state);
    let out = run_within_30s(root.path(), &["-q"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} is a FIFO, not a regular file: refused",
            state.display()
        )),
        "{stderr}"
    );
    assert!(is_fifo(&state));
    assert_eq!(list(&root.path().join("1")), ["data.csv"]);
}

/// `options` holds `model`, and numbers as they were given (`3`, not `3.0`).
#[test]
fn summary_options_name_the_model_and_keep_numbers_as_given() {
    let root = temp_copy("netprofile/root");
    let out = run(
        root.path(),
        NOW,
        &["--tag", "1", "--max-age", "300000", "--summary-json", "-"],
    );
    let (json, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let options = &json[json.find("\"options\"").unwrap()..json.find("\"exit_code\"").unwrap()];
    let expected = r#""options": {
    "horizon": 24,
    "interval_width": 0.8,
    "protocols": [
      "ICMP",
      "TCP",
      "UDP"
    ],
    "outlier_quantile": 0.95,
    "seasonality_mode": "additive",
    "model": "auto",
    "keep": null,
    "tags": [
      "1"
    ],
    "max_age_hours": 300000,
    "complete_only": false,
    "plot": false,
    "evaluate_days": null
  },
  "#;
    assert_eq!(options, expected);
    let args = [
        "--tag",
        "1",
        "--max-age",
        "299999.5",
        "--outlier-quantile",
        "1",
        "--model",
        "seasonal-trend",
        "--summary-json",
        "-",
    ];
    let (json, _) = text(&run_within_30s(root.path(), &args));
    for line in [
        "\"max_age_hours\": 299999.5,",
        "\"outlier_quantile\": 1,",
        "\"model\": \"seasonal-trend\",",
    ] {
        assert!(json.contains(line), "{line}: {json}");
    }
}
