//! `contrib/slurm/backfill.sh` without Slurm: output names, the report's
//! refusal of clashing names, paths that are not regular files, and the
//! refusals of a task (too little memory, a stepped array). The job arrays
//! on a real Slurm are in `backfill_slurm.rs`.

use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::backfill::{inputs, series_of};
use crate::util::{testdata, text};

/// The script under test.
pub fn script() -> PathBuf {
    testdata("../contrib/slurm/backfill.sh")
}

/// The script run directly (not under Slurm), without Slurm's variables.
pub fn direct(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new("bash");
    command.arg(script()).args(args).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SLURM_") {
            command.env_remove(key);
        }
    }
    command
        .env("FLOWTUPLE_SERIES", env!("CARGO_BIN_EXE_flowtuple-series"))
        .output()
        .unwrap()
}

/// `--report LIST out` in `dir`: (exit code, stdout).
pub fn report(dir: &Path, list: &str) -> (Option<i32>, String) {
    let out = direct(dir, &["--report", list, "out"]);
    (out.status.code(), text(&out).0)
}

/// Writes `dir/files.txt`, one line each.
pub fn write_list(dir: &Path, lines: &[String]) {
    std::fs::write(dir.join("files.txt"), lines.join("\n") + "\n").unwrap();
}

/// A path as the LIST and the logs show it.
pub fn show(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn the_help_points_to_the_script() {
    let out = crate::util::bin("flowtuple-series")
        .arg("--help")
        .output()
        .unwrap();
    let help = text(&out).0;
    assert!(
        help.contains(" contrib/slurm/backfill.sh files.txt out nonspoofed\n"),
        "{help}"
    );
    assert!(script().is_file());
}

#[test]
fn output_names_are_a_function_of_the_list_line() {
    let d = Path::new(".");
    let name = |line: &str| {
        let out = direct(d, &["--name", line]);
        let (stdout, stderr) = text(&out);
        (out.status.code(), stdout.trim_end().to_string(), stderr)
    };
    for (line, want) in [
        (
            "/a/b/ucsd-nt.1600000000.flowtuple.avro",
            "ucsd-nt.1600000000.flowtuple.series",
        ),
        ("rel/x.avro", "x.series"),
        ("noext", "noext.series"),
        (
            "s3://bucket/y=2024/m=01/x.flowtuple.avro",
            "y=2024/m=01/x.flowtuple.series",
        ),
        ("s3://bucket/y=2024/m=01/d=05/", "y=2024/m=01/d=05.series"),
        ("s3://bucket/y=2024/m=01/d=06//", "y=2024/m=01/d=06.series"),
        ("swift://container/2024/01/05/", "2024/01/05.series"),
        ("https://host/p/q.avro?X-Sig=1#f", "p/q.series"),
    ] {
        assert_eq!(
            name(line),
            (Some(0), want.to_string(), String::new()),
            "{line}"
        );
    }
    for line in [
        ".avro",
        "dir/",
        "s3://bucket",
        "s3://bucket/",
        "s3://b/a//c.avro",
        "s3://b/../x",
    ] {
        let (code, stdout, stderr) = name(line);
        assert_eq!((code, stdout.as_str()), (Some(2), ""), "{line}");
        assert!(
            stderr.contains(&format!("no output name for `{line}`")),
            "{stderr}"
        );
    }
}

#[test]
fn two_list_lines_with_one_output_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_list(
        d,
        &[
            "s3://b/2024/01/05/".into(),
            "/x/y".into(),
            String::new(),
            "s3://other/2024/01/05.avro".into(),
        ],
    );
    let said = "backfill: LIST lines 1 and 4 have one output name, 2024/01/05.series\n";
    let out = direct(d, &["--report", "files.txt", "out"]);
    assert_eq!((out.status.code(), text(&out).1.as_str()), (Some(2), said));
    // A task refuses before running anything.
    let out = direct(d, &["files.txt", "out", "nonspoofed"]);
    assert_eq!((out.status.code(), text(&out).1.as_str()), (Some(2), said));
    assert!(!d.join("out").exists());
}

/// The message for a path of ours that is not a regular file.
fn refusal(path: &str, kind: &str) -> String {
    format!("backfill: out/{path} is a {kind}, not a regular file: left alone (move it away and resubmit)")
}

/// `--report` after the refusals of `outputs_that_are_not_regular_files_are_left_alone`.
fn assert_refusals_reported(d: &Path, files: &[PathBuf]) {
    let f = |i: usize| show(&files[i]);
    let (code, said) = report(d, "files.txt");
    assert_eq!(code, Some(1));
    let bad = std::fs::read_to_string(d.join("out/bad.flowtuple.failed")).unwrap();
    let expected = format!(
        "FAILED 2 {a}\n  (out/a.flowtuple.series is not a regular file)\n\
         FAILED 2 {b}\n  (out/b.flowtuple.series is not a regular file)\n\
         FAILED 1 {bad_input}\n  {bad_error}\n\
         FAILED 2 {c}\n  {c_refusal}\n",
        a = f(0),
        b = f(1),
        bad_input = f(2),
        bad_error = bad.lines().nth(1).unwrap(),
        c = f(3),
        c_refusal = refusal("c.flowtuple.series.part", "socket"),
    );
    assert!(said.starts_with(&expected), "{said}");
    assert!(bad.contains(": truncated file"), "{bad}");
    assert!(
        said.ends_with("\n5 inputs: 0 done, 5 failed, 0 missing\n"),
        "{said}"
    );
}

#[test]
fn outputs_that_are_not_regular_files_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = inputs(d); // a, b, bad, c
    let mut lines: Vec<String> = files.iter().map(|f| show(f)).collect();
    lines.push("nosuch://bucket/y=2024/d=05/".into());
    write_list(d, &lines);
    let outdir = d.join("out");
    std::fs::create_dir(&outdir).unwrap();
    // a's output a symlink, b's a FIFO, c's .part a socket.
    let target = d.join("target");
    std::fs::write(&target, "keep").unwrap();
    std::os::unix::fs::symlink(&target, series_of(d, &files[0])).unwrap();
    let fifo = series_of(d, &files[1]);
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let socket = series_of(d, &files[3]).with_extension("series.part");
    let _listener = UnixListener::bind(&socket).unwrap();

    let run = direct(d, &["files.txt", "out", "nonspoofed"]);
    let (stdout, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let f = |i: usize| show(&files[i]);
    let logged: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        logged[..4],
        [
            format!("FAILED 2 {}", f(0)),
            format!("FAILED 2 {}", f(1)),
            format!("FAILED 1 {}", f(2)),
            format!("FAILED 2 {}", f(3)),
        ]
    );
    // No remote input on this branch: that line fails, but has its name.
    assert!(
        logged[4].starts_with("FAILED ") && logged[4].ends_with(" nosuch://bucket/y=2024/d=05/")
    );
    for (path, kind) in [
        ("a.flowtuple.series", "symlink"),
        ("b.flowtuple.series", "FIFO"),
        ("c.flowtuple.series.part", "socket"),
    ] {
        assert!(stderr.contains(&refusal(path, kind)), "{stderr}");
    }
    let kind = |p: &Path| std::fs::symlink_metadata(p).unwrap().file_type();
    assert!(kind(&series_of(d, &files[0])).is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(kind(&fifo).is_fifo());
    assert!(kind(&socket).is_socket());
    assert!(!series_of(d, &files[3]).exists());
    // A URL's output name is its key path, directories included.
    let url = std::fs::read_to_string(outdir.join("y=2024/d=05.failed")).unwrap();
    assert!(
        url.starts_with("FAILED ") && url.contains(" nosuch://bucket/y=2024/d=05/\n"),
        "{url}"
    );
    assert_refusals_reported(d, &files);
}

#[test]
fn a_task_refuses_too_little_memory_and_a_stepped_array() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_list(d, &[show(&testdata("flowtuple/minutes.avro"))]);
    let task = |env: &[(&str, &str)]| {
        let mut command = Command::new("bash");
        command
            .arg(script())
            .args(["files.txt", "out", "nonspoofed"])
            .current_dir(d)
            .env_remove("TMPDIR")
            .env_remove("SLURM_TMPDIR")
            .env_remove("SLURM_MEM_PER_CPU")
            .env("FLOWTUPLE_SERIES", env!("CARGO_BIN_EXE_flowtuple-series"));
        for (key, value) in [
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_CPUS_PER_TASK", "2"),
        ]
        .iter()
        .chain(env)
        {
            command.env(key, value);
        }
        let out = command.output().unwrap();
        (out.status.code(), text(&out).1)
    };
    // 2 threads: L + 32 + 2 * (24 + 2% of L) <= M gives L = (M - 80) / 1.04:
    // 63.5 for 146 MiB, 64.4 for 147.
    let (code, stderr) = task(&[("SLURM_MEM_PER_NODE", "146")]);
    assert_eq!(code, Some(2));
    assert!(
        stderr
            .contains("the job's 146 MiB leave less than 64 MiB for --memory-limit with 2 threads"),
        "{stderr}"
    );
    assert!(!d.join("out").exists(), "nothing is written");
    let (code, stderr) = task(&[("SLURM_MEM_PER_NODE", "147")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("-j 2 --memory-limit 64M --mode nonspoofed INPUT"),
        "{stderr}"
    );
    // --array=0-2:2 (tasks 0 and 2): the lines would be split wrongly.
    let (code, stderr) = task(&[
        ("SLURM_ARRAY_TASK_MAX", "2"),
        ("SLURM_ARRAY_TASK_STEP", "2"),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("the array must be a plain range (--array=0-1)"),
        "{stderr}"
    );
}
