//! `--memory-limit`, `--temp-dir`, `--stats` and signals of flowtuple-series.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::flowtuple::{fixture, run, tsv};
use crate::util::{bin, list, tally, testdata, text, Checked};

/// The bytes spilled, from a `--stats` line.
fn spilled(stderr: &str) -> u64 {
    let line = stderr.lines().find(|l| l.contains(": stats: ")).unwrap();
    let (_, rest) = line.split_once("spilled ").unwrap();
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// Every golden case (CASES.tsv on each stem's first input, REPORT.tsv)
/// under a 1 KiB limit, which spills every block or so: the output is the
/// golden one.
#[test]
fn spilling_golden_cases_print_the_golden_outputs() {
    let inputs = tsv("INPUTS.tsv");
    let mut runs: Vec<(String, Vec<String>)> = Vec::new();
    for case in tsv("CASES.tsv") {
        let stem = case[0].split('.').next().unwrap().to_string();
        let input = inputs.iter().find(|i| i[0] == stem).unwrap();
        let mut argv = vec![fixture(&input[1])];
        argv.extend(case[1].split(' ').map(str::to_string));
        runs.push((case[0].clone(), argv));
    }
    for case in tsv("REPORT.tsv") {
        let argv = case[2]
            .split(' ')
            .map(|a| a.strip_prefix('@').map_or(a.to_string(), fixture))
            .collect();
        runs.push((case[0].clone(), argv));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut spilling = 0;
    for (name, argv) in &runs {
        let expected =
            std::fs::read_to_string(testdata(&format!("flowtuple/expected/{name}"))).unwrap();
        for threads in ["1", "2"] {
            let mut argv = argv.clone();
            let temp = dir.path().to_string_lossy().into_owned();
            argv.extend(
                [
                    "-j",
                    threads,
                    "--memory-limit",
                    "1K",
                    "--stats",
                    "--temp-dir",
                    &temp,
                ]
                .map(String::from),
            );
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let (out, err, _) = run(&argv);
            assert!(out == expected, "{name} -j{threads}: output differs\n{err}");
            if err
                .lines()
                .any(|l| l.contains(": stats: ") && spilled(l) > 0)
            {
                spilling += 1;
            }
        }
    }
    assert!(spilling > runs.len(), "only {spilling} runs spilled");
    assert!(list(dir.path()).is_empty(), "temporary files left");
}

/// Unmounts a test mount when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A tmpfs of `size` with `options` on a new directory, or `None` (with a
/// message) where mounting is not permitted (CI runs as root).
fn tmpfs(dir: &Path, size: &str, options: &str) -> Option<Mount> {
    let at = dir.join("mnt");
    std::fs::create_dir(&at).unwrap();
    let status = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}{options}"),
            "tmpfs",
        ])
        .arg(&at)
        .stderr(Stdio::null())
        .status();
    if status.is_ok_and(|s| s.success()) {
        Some(Mount(at))
    } else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root?); the full-disk test needs it");
        None
    }
}

/// A 4 KiB tmpfs holds the spills of `small-null.avro`'s small intervals
/// (each interval's file goes when it closes), not those of the 3,000
/// records of `spill-3k.avro`'s one interval (spilled runs are compact: the
/// small intervals alone no longer fill it). Read one after the other, the
/// first file prints whole, the second nothing.
#[test]
fn a_full_temp_dir_is_a_clear_error_and_prints_no_partial_interval() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs(dir.path(), "4k", "") else {
        return;
    };
    let (small, big) = (fixture("small-null.avro"), fixture("spill-3k.avro"));
    let (whole, _, code) = run(&[&small, "unfiltered-ipmeta", "--memory-limit", "none"]);
    assert_eq!(code, 0);
    let (_, _, code) = run(&[&big, "unfiltered-ipmeta", "--memory-limit", "none"]);
    assert_eq!(code, 0);
    let temp = mount.0.to_string_lossy().into_owned();
    let (out, err, code) = run(&[
        "-j1",
        "--mode",
        "unfiltered-ipmeta",
        &small,
        &big,
        "--memory-limit",
        "1K",
        "--temp-dir",
        &temp,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "spill-3k.avro: temporary directory {temp}: disk full"
        )),
        "{err}"
    );
    assert!(err.contains("needed up to "), "{err}");
    assert_eq!(out, whole);
    assert!(list(&mount.0).is_empty());
}

/// The temporary directory is checked before any input is read: missing,
/// not a directory, or read-only is a usage error (exit status 2), also
/// when --memory-limit none means it would never be used, so that a bad
/// cron line fails at once and not hours later at the first spill.
#[test]
fn an_unusable_temp_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("small-null.avro");
    let missing = dir.path().join("missing").to_string_lossy().into_owned();
    let mut cases = vec![
        (
            missing.clone(),
            format!("--temp-dir: temporary directory {missing} does not exist"),
        ),
        (
            file.clone(),
            format!("--temp-dir: temporary directory {file} is not a directory"),
        ),
    ];
    // Read-only (root writes anywhere else).
    let mount = tmpfs(dir.path(), "1m", ",ro");
    if let Some(mount) = &mount {
        let temp = mount.0.to_string_lossy().into_owned();
        let want = format!(
            "--temp-dir: temporary directory {temp} is not writable (cannot create a file in \
             it: Read-only file system)"
        );
        cases.push((temp, want));
    }
    for (temp, want) in &cases {
        for limit in ["1K", "none"] {
            // stdin never read: the check comes first.
            let out = bin("flowtuple-series")
                .args([
                    "-",
                    "unfiltered",
                    "--memory-limit",
                    limit,
                    "--temp-dir",
                    temp,
                ])
                .stdin(Stdio::piped())
                .output()
                .checked();
            let (out_text, err) = text(&out);
            assert_eq!(
                (out_text.as_str(), out.status.code()),
                ("", Some(2)),
                "{err}"
            );
            assert!(
                err.starts_with(&format!("error: {want}\n")),
                "{limit}: {err}"
            );
        }
    }
    // The default, $TMPDIR, is checked when spilling is possible.
    let out = bin("flowtuple-series")
        .args([&file, "unfiltered"])
        .env("TMPDIR", &missing)
        .output()
        .checked();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out).1;
    assert!(
        err.starts_with(&format!(
            "error: temporary directory {missing} does not exist (the default: $TMPDIR, else \
             /tmp; choose one with --temp-dir)\n"
        )),
        "{err}"
    );
    // Without spilling and without --temp-dir, $TMPDIR is not used.
    let out = bin("flowtuple-series")
        .args([&file, "unfiltered", "--memory-limit", "none"])
        .env("TMPDIR", &missing)
        .output()
        .checked();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
}

/// Starts flowtuple-series on stdin, fed the first half of a fixture, and
/// waits until it holds a temporary file open in `temp`.
fn spilling_child(temp: &Path) -> Child {
    let data = std::fs::read(testdata("flowtuple/small-null.avro")).unwrap();
    let mut child = bin("flowtuple-series")
        .args([
            "-",
            "unfiltered",
            "-j1",
            "--memory-limit",
            "1K",
            "--temp-dir",
        ])
        .arg(temp)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&data[..data.len() / 2]).unwrap();
    // Kept open (leaked) so that the child waits for more.
    std::mem::forget(stdin);
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    let started = Instant::now();
    loop {
        let open_in_temp = std::fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .any(|e| std::fs::read_link(e.unwrap().path()).is_ok_and(|l| l.starts_with(temp)));
        if open_in_temp {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no spill seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Open, and no name in the directory.
    assert!(list(temp).is_empty(), "temporary file visible");
    child
}

#[test]
fn killed_and_signalled_runs_leave_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    for (signal, status) in [("KILL", None), ("TERM", Some(143)), ("INT", Some(130))] {
        let child = spilling_child(dir.path());
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().checked();
        assert_eq!(out.status.code(), status, "SIG{signal}");
        assert!(out.stdout.is_empty(), "SIG{signal}: no partial interval");
        assert!(list(dir.path()).is_empty(), "SIG{signal}: files left");
    }
}

#[test]
fn stats_say_how_far_each_file_got() {
    let (out, err, code) = run(&[
        "--mode",
        "unfiltered",
        "--stats",
        &fixture("minutes.avro"),
        &fixture("cutoff.avro"),
    ]);
    assert_eq!(code, 1);
    assert!(!out.is_empty());
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert_eq!(format!("{}\n", lines[3]), tally(2, 1, 1));
    assert!(
        lines[0].starts_with(&format!(
        "flowtuple-series: stats: {}: records read 48, counted 48, intervals 4, spilled 0 bytes, ",
        fixture("minutes.avro")
    )),
        "{err}"
    );
    assert!(lines[1].starts_with(&format!(
        "flowtuple-series: stats: {}: FAILED after records read 3, counted 3, intervals 1, spilled 0 bytes, ",
        fixture("cutoff.avro")
    )), "{err}");
    assert!(
        lines[1].ends_with(" s") && lines[2].contains("truncated file"),
        "{err}"
    );
}

#[test]
fn memory_limit_sizes() {
    let file = fixture("minutes.avro");
    for bad in ["0", "12X", "G", "99999999999T"] {
        let (_, err, code) = run(&[&file, "unfiltered", "--memory-limit", bad]);
        assert_eq!(code, 2, "{bad}");
        assert!(
            err.contains("is not a size (e.g. 512M, 4G, none)"),
            "{bad}: {err}"
        );
    }
    for good in ["none", "512M", "4G", "1GiB", "100000", "1t"] {
        let (_, err, code) = run(&[&file, "unfiltered", "--memory-limit", good]);
        assert_eq!(code, 0, "{good}: {err}");
    }
}

#[test]
fn progress_shows_only_where_asked() {
    let (file, other) = (fixture("small-null.avro"), fixture("repro-deflate.avro"));
    // stderr is a pipe here: auto shows nothing.
    for when in [None, Some("auto"), Some("never")] {
        let mut args = vec!["--mode", "unfiltered", file.as_str(), other.as_str()];
        if let Some(when) = when {
            args.extend(["--progress", when]);
        }
        let (_, err, code) = run(&args);
        assert_eq!((err, code), (tally(2, 2, 0), 0), "{when:?}");
    }
    // always, into a pipe: plain lines (the last at the end), no terminal
    // control codes; with -q, only the error.
    for quiet in [false, true] {
        let mut args = vec![
            "--mode",
            "unfiltered",
            "-j2",
            "--progress",
            "always",
            "-",
            &file,
        ];
        if quiet {
            args.push("-q");
        }
        let mut child = bin("flowtuple-series")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::thread::sleep(Duration::from_millis(600));
        stdin.write_all(b"not avro").unwrap();
        drop(stdin);
        let out = child.wait_with_output().checked();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains(['\r', '\x1b']), "{err:?}");
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines[0].starts_with("flowtuple-series: <stdin>: not an Avro"),
            "{err:?}"
        );
        if quiet {
            assert_eq!(lines.len(), 1, "{err:?}");
            continue;
        }
        assert_eq!(lines.len(), 3, "{err:?}");
        assert!(
            lines[1].starts_with("flowtuple-series: 2/2 files, 0.0 M records, "),
            "{err:?}"
        );
        assert_eq!(format!("{}\n", lines[2]), tally(2, 1, 1));
    }
    // always (and auto), on a terminal (script(1) gives the run one): a
    // line redrawn in place, cleared before a message.
    for when in ["always", "auto"] {
        let command = format!(
            "(sleep 1.2; echo not avro) | {} --mode unfiltered -j2 --progress {when} - {file} \
             >/dev/null",
            env!("CARGO_BIN_EXE_flowtuple-series")
        );
        let out = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("script(1), of util-linux (Debian: bsdutils)");
        let err = String::from_utf8_lossy(&out.stdout);
        assert!(
            err.starts_with("\r\x1b[Kflowtuple-series: 1/2 files, 0.0 M records, "),
            "{err:?}"
        );
        assert!(
            err.contains("\r\x1b[Kflowtuple-series: <stdin>: not an Avro"),
            "{err:?}"
        );
        assert!(
            err.ends_with("\r\x1b[Kflowtuple-series: 2 files: 1 ok, 1 failed\r\n"),
            "{err:?}"
        );
    }
}
