//! `contrib/slurm/backfill.sh`: job arrays on a real one-node Slurm
//! (`slurm.rs`), and its output naming, report and refusals without one.

use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::backfill::{alone, inputs, path_with_binary, series_of};
use crate::slurm::Cluster;
use crate::util::{testdata, text};

fn script() -> PathBuf {
    testdata("../contrib/slurm/backfill.sh")
}

/// The script run directly (not under Slurm), without Slurm's variables.
fn direct(dir: &Path, args: &[&str]) -> Output {
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

/// `--report LIST OUTDIR` in `dir`: (exit code, stdout).
fn report(dir: &Path, list: &str) -> (Option<i32>, String) {
    let out = direct(dir, &["--report", list, "out"]);
    (out.status.code(), text(&out).0)
}

/// The lines a task logged for its inputs (`ok`, `done`, `FAILED`), and the
/// command it said it runs.
fn task_log(dir: &Path, job: &str, task: u32) -> (Vec<String>, String) {
    let log = std::fs::read_to_string(dir.join(format!("log-{job}-{task}.txt"))).unwrap();
    let lines = log
        .lines()
        .filter(|l| ["ok ", "done ", "FAILED "].iter().any(|p| l.starts_with(p)))
        .map(String::from)
        .collect();
    let prefix = format!("backfill: task {task} of ");
    let command = log
        .lines()
        .find_map(|l| Some(l.strip_prefix(&prefix)?.split_once(" runs: ")?.1))
        .unwrap_or_else(|| panic!("no command in {log}"))
        .to_string();
    (lines, command)
}

/// An sbatch of the script over `files.txt` in `dir`, logs in
/// `dir/log-JOB-TASK.txt`.
fn submit(cluster: &Cluster, dir: &Path, resources: &[&str]) -> String {
    let mut command = cluster.sbatch_command();
    command
        .args(resources)
        .arg(format!("--output={}/log-%A-%a.txt", dir.display()))
        .arg(format!("--chdir={}", dir.display()))
        .arg(script())
        .args(["files.txt", "out", "nonspoofed"])
        .env("PATH", path_with_binary());
    cluster.sbatch(command)
}

fn write_list(dir: &Path, lines: &[String]) {
    std::fs::write(dir.join("files.txt"), lines.join("\n") + "\n").unwrap();
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn a_slurm_array_matches_local_runs_records_a_failure_and_reruns_only_it() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut files = inputs(d); // a, b, bad (truncated), c
    let e = d.join("e.flowtuple.avro");
    std::fs::copy(testdata("flowtuple/small-deflate.avro"), &e).unwrap();
    files.push(e);
    let mut lines: Vec<String> = files.iter().map(|f| show(f)).collect();
    lines.insert(2, String::new()); // blank lines are not inputs
    write_list(d, &lines);
    let resources = ["--array=0-3", "--cpus-per-task=1", "--mem=700"];

    let job = submit(&cluster, d, &resources);
    cluster.wait(&job);
    let tasks = cluster.tasks(&job);
    assert_eq!(tasks.len(), 4, "{tasks:?}");
    for (id, task) in &tasks {
        // Task 2 has the third input, the truncated file.
        let (state, code) = if *id == 2 {
            ("FAILED", "1:0")
        } else {
            ("COMPLETED", "0:0")
        };
        assert_eq!(
            (task.state.as_str(), task.exit_code.as_str()),
            (state, code),
            "{id}"
        );
        // What Slurm gave the task...
        assert!(task.tres.starts_with("cpu=1,mem=700M,"), "{task:?}");
    }
    let f = |i: usize| show(&files[i]);
    let expected = [
        vec![format!("ok {}", f(0)), format!("ok {}", f(4))],
        vec![format!("ok {}", f(1))],
        vec![format!("FAILED 1 {}", f(2))],
        vec![format!("ok {}", f(3))],
    ];
    for (task, want) in expected.iter().enumerate() {
        let (logged, command) = task_log(d, &job, task as u32);
        assert_eq!(&logged, want, "task {task}");
        // ... is what flowtuple-series ran with: 700 MiB less the overhead
        // README states for one thread (32 + 48 MiB); Slurm's TMPDIR.
        assert_eq!(
            command,
            "flowtuple-series -j 1 --memory-limit 620M --temp-dir /tmp --mode nonspoofed INPUT"
        );
    }
    for (i, file) in files.iter().enumerate() {
        let out = series_of(d, file);
        let part = out.with_extension("series.part");
        assert!(!part.exists(), "{}", part.display());
        if i == 2 {
            assert!(!out.exists());
        } else {
            assert_eq!(std::fs::read(&out).unwrap(), alone(file, &[]), "{i}");
        }
    }
    let failed = d.join("out/bad.flowtuple.failed");
    let record = std::fs::read_to_string(&failed).unwrap();
    assert!(
        record.starts_with(&format!(
            "FAILED 1 {}\nflowtuple-series: {}: truncated file",
            f(2),
            f(2)
        )),
        "{record}"
    );
    let (code, said) = report(d, "files.txt");
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.starts_with(&format!(
            "FAILED 1 {}\n  flowtuple-series: {}: truncated",
            f(2),
            f(2)
        )),
        "{said}"
    );
    assert!(
        said.ends_with("\n5 inputs: 4 done, 1 failed, 0 missing\n"),
        "{said}"
    );

    // The file is fixed; the same command redoes it and only it.
    std::fs::copy(testdata("flowtuple/small-deflate.avro"), &files[2]).unwrap();
    let again = submit(&cluster, d, &resources);
    cluster.wait(&again);
    assert!(cluster
        .tasks(&again)
        .values()
        .all(|t| t.state == "COMPLETED"));
    let logged: Vec<Vec<String>> = (0..4).map(|t| task_log(d, &again, t).0).collect();
    assert_eq!(
        logged[0],
        [format!("done {}", f(0)), format!("done {}", f(4))]
    );
    assert_eq!(logged[2], [format!("ok {}", f(2))]);
    assert_eq!(
        std::fs::read(series_of(d, &files[2])).unwrap(),
        alone(&files[2], &[])
    );
    assert!(!failed.exists(), "the record of the failure is removed");
    assert_eq!(
        report(d, "files.txt"),
        (Some(0), "5 inputs: 5 done, 0 failed, 0 missing\n".into())
    );
}

/// The PIDs of processes whose command line contains `needle`.
fn pids_with(needle: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// Waits until task 1 of `job` runs and has created `part`.
fn wait_running(cluster: &Cluster, job: &str, part: &Path) {
    let start = Instant::now();
    while !(part.exists() && cluster.queue_state(&format!("{job}_1")) == "RUNNING") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_cancelled_or_killed_task_leaves_no_output_and_a_resubmission_finishes() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = d.join("a.flowtuple.avro");
    std::fs::copy(testdata("flowtuple/minutes.avro"), &a).unwrap();
    // A FIFO with a writer and no data: its task runs until stopped.
    let slow = d.join("slow.flowtuple.avro");
    let made = Command::new("mkfifo").arg(&slow).status().unwrap();
    assert!(made.success());
    let writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slow)
        .unwrap();
    write_list(d, &[show(&a), show(&slow)]);
    let part = d.join("out/slow.flowtuple.series.part");
    let out = series_of(d, &slow);
    let resources = ["--array=0-1", "--cpus-per-task=1", "--mem=700"];

    let job = submit(&cluster, d, &resources);
    wait_running(&cluster, &job, &part);
    cluster.run("scancel", &[format!("{job}_1")]);
    cluster.wait(&job);
    let tasks = cluster.tasks(&job);
    assert_eq!(tasks[&0].state, "COMPLETED");
    assert_eq!(tasks[&1].state, "CANCELLED");
    assert!(!part.exists() && !out.exists(), "nothing partial is left");
    assert!(
        !d.join("out/slow.flowtuple.failed").exists(),
        "not the input's fault"
    );
    let (logged, _) = task_log(d, &job, 1);
    assert_eq!(logged, [format!("FAILED 143 {} (cancelled)", show(&slow))]);
    assert_eq!(
        report(d, "files.txt"),
        (Some(1), "2 inputs: 1 done, 0 failed, 1 missing\n".into())
    );

    // A task killed outright (a node failure, the OOM killer) leaves its .part.
    let job = submit(&cluster, d, &resources);
    wait_running(&cluster, &job, &part);
    let needle = format!("--mode\0nonspoofed\0{}", show(&slow));
    let reader = pids_with(&needle);
    assert_eq!(reader.len(), 1, "flowtuple-series reading the FIFO");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", reader[0])).unwrap();
    // The parent (the batch script) is the field after `(comm) state`.
    let parent: i32 = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    for pid in [parent, reader[0]] {
        let pid = rustix::process::Pid::from_raw(pid).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    }
    cluster.wait(&job);
    assert_ne!(cluster.tasks(&job)[&1].state, "COMPLETED");
    assert!(part.exists() && !out.exists(), "what a killed task leaves");

    // The input becomes a regular file; the resubmission (with memory per
    // CPU and SLURM_TMPDIR this time) removes the stale .part and finishes.
    drop(writer);
    std::fs::remove_file(&slow).unwrap();
    std::fs::copy(testdata("flowtuple/small-null.avro"), &slow).unwrap();
    let scratch = d.join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let cpus = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(2);
    let mut command = cluster.sbatch_command();
    command
        .args([
            "--array=0-1",
            &format!("--cpus-per-task={cpus}"),
            "--mem-per-cpu=400",
        ])
        .arg(format!("--output={}/log-%A-%a.txt", d.display()))
        .arg(format!("--chdir={}", d.display()))
        .arg(script())
        .args(["files.txt", "out", "nonspoofed"])
        .env("PATH", path_with_binary())
        .env("SLURM_TMPDIR", &scratch);
    let job = cluster.sbatch(command);
    cluster.wait(&job);
    let tasks = cluster.tasks(&job);
    let mem = 400 * cpus;
    for task in tasks.values() {
        assert_eq!(task.state, "COMPLETED");
        assert!(
            task.tres.starts_with(&format!("cpu={cpus},mem={mem}M,")),
            "{task:?}"
        );
    }
    let (logged, command) = task_log(d, &job, 1);
    assert_eq!(logged, [format!("ok {}", show(&slow))]);
    // 400 MiB a CPU: 800 MiB less 32 + 2 * 48 MiB for two, 400 MiB less
    // 32 + 48 MiB for one.
    let limit = if cpus == 2 { 672 } else { 320 };
    assert_eq!(
        command,
        format!(
            "flowtuple-series -j {cpus} --memory-limit {limit}M --temp-dir {} --mode nonspoofed INPUT",
            scratch.display()
        )
    );
    assert!(!part.exists());
    assert_eq!(std::fs::read(&out).unwrap(), alone(&slow, &[]));
    assert_eq!(
        report(d, "files.txt"),
        (Some(0), "2 inputs: 2 done, 0 failed, 0 missing\n".into())
    );
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
            "s3://other/2024/01/05.avro".into(),
        ],
    );
    let out = direct(d, &["--report", "files.txt", "out"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out).1,
        "backfill: LIST lines 1 and 3 have one output name, 2024/01/05.series\n"
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
    let refusal = |path: &str, kind: &str| {
        format!("backfill: out/{path} is a {kind}, not a regular file: left alone (move it away and resubmit)")
    };
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
    // 2 threads: 32 + 2 * 48 = 128 MiB of overhead; 191 MiB leave 63.
    let (code, stderr) = task(&[("SLURM_MEM_PER_NODE", "191")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("the job's 191 MiB leave less than 64 MiB for --memory-limit after flowtuple-series's 128 MiB overhead"), "{stderr}");
    assert!(!d.join("out").exists(), "nothing is written");
    let (code, stderr) = task(&[("SLURM_MEM_PER_NODE", "192")]);
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
