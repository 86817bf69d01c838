//! `contrib/slurm/backfill.sh` as job arrays on a real one-node Slurm
//! (`slurm.rs`): outputs as local runs give them, a failure recorded and
//! redone, a cancelled and a killed task, and the -j and memory limit a task
//! used against what Slurm gave it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::backfill::{alone, inputs, path_with_binary, series_of};
use crate::backfill_script::{report, script, show, write_list};
use crate::slurm::Cluster;
use crate::util::testdata;

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
/// `dir/log-JOB-TASK.txt`, with `env` added to the submitter's.
fn submit(cluster: &Cluster, dir: &Path, resources: &[&str], env: &[(&str, &OsStr)]) -> String {
    let mut command = cluster.sbatch_command();
    command
        .args(resources)
        .arg(format!("--output={}/log-%A-%a.txt", dir.display()))
        .arg(format!("--chdir={}", dir.display()))
        .arg(script())
        .args(["files.txt", "out", "nonspoofed"])
        .env("PATH", path_with_binary())
        // Slurm then sets TMPDIR=/tmp (it keeps one the submitter has).
        .env_remove("TMPDIR")
        .envs(env.iter().copied());
    cluster.sbatch(command)
}

/// The first array of the first test: states, logs, commands, outputs.
fn check_first_array(cluster: &Cluster, d: &Path, job: &str, files: &[PathBuf]) {
    let tasks = cluster.tasks(job);
    assert_eq!(tasks.len(), 4, "{tasks:?}");
    for (id, task) in &tasks {
        // Task 2 has the third input, the truncated file.
        let want = if *id == 2 {
            ("FAILED", "1:0")
        } else {
            ("COMPLETED", "0:0")
        };
        assert_eq!((task.state.as_str(), task.exit_code.as_str()), want, "{id}");
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
        let (logged, command) = task_log(d, job, task as u32);
        assert_eq!(&logged, want, "task {task}");
        // ... is what flowtuple-series ran with: the largest L with
        // L + 32 + 1 * (24 + 2% of L) <= 700 MiB (the overhead
        // docs/slurm-backfill.md states): 644 / 1.02 = 631.4; Slurm's TMPDIR.
        assert_eq!(
            command,
            "flowtuple-series -j 1 --memory-limit 631M --temp-dir /tmp --mode nonspoofed INPUT"
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

    let job = submit(&cluster, d, &resources, &[]);
    cluster.wait(&job);
    check_first_array(&cluster, d, &job, &files);
    let bad = show(&files[2]);
    let failed = d.join("out/bad.flowtuple.failed");
    let record = std::fs::read_to_string(&failed).unwrap();
    let error = format!("flowtuple-series: {bad}: truncated file");
    assert!(
        record.starts_with(&format!("FAILED 1 {bad}\n{error}")),
        "{record}"
    );
    let (code, said) = report(d, "files.txt");
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.starts_with(&format!("FAILED 1 {bad}\n  {error}")),
        "{said}"
    );
    assert!(
        said.ends_with("\n5 inputs: 4 done, 1 failed, 0 missing\n"),
        "{said}"
    );

    // The file is fixed; the same command redoes it and only it.
    std::fs::copy(testdata("flowtuple/small-deflate.avro"), &files[2]).unwrap();
    let again = submit(&cluster, d, &resources, &[]);
    cluster.wait(&again);
    assert!(cluster
        .tasks(&again)
        .values()
        .all(|t| t.state == "COMPLETED"));
    let logged: Vec<Vec<String>> = (0..4).map(|t| task_log(d, &again, t).0).collect();
    let done = |i: usize| format!("done {}", show(&files[i]));
    assert_eq!(
        logged,
        [
            vec![done(0), done(4)],
            vec![done(1)],
            vec![format!("ok {bad}")],
            vec![done(3)]
        ]
    );
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

/// SIGKILL to the flowtuple-series reading `input` and to its parent, the
/// batch script, as a node failure or the OOM killer would.
fn kill_outright(input: &Path) {
    let needle = format!("--mode\0nonspoofed\0{}", show(input));
    let mut readers = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            readers.push(pid);
        }
    }
    assert_eq!(readers.len(), 1, "flowtuple-series reading {}", show(input));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", readers[0])).unwrap();
    // The parent is the field after `(comm) state`.
    let fields = stat.rsplit_once(") ").unwrap().1;
    let parent: i32 = fields.split(' ').nth(1).unwrap().parse().unwrap();
    for pid in [parent, readers[0]] {
        let pid = rustix::process::Pid::from_raw(pid).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    }
}

/// An input that is a FIFO with a writer and no data: its task runs until
/// stopped. Returns its path and the writer (keep it open).
fn slow_input(d: &Path) -> (PathBuf, std::fs::File) {
    let slow = d.join("slow.flowtuple.avro");
    assert!(Command::new("mkfifo")
        .arg(&slow)
        .status()
        .unwrap()
        .success());
    let writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slow)
        .unwrap();
    (slow, writer)
}

#[test]
fn a_cancelled_or_killed_task_leaves_no_output_and_a_resubmission_finishes() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = d.join("a.flowtuple.avro");
    std::fs::copy(testdata("flowtuple/minutes.avro"), &a).unwrap();
    let (slow, writer) = slow_input(d);
    write_list(d, &[show(&a), show(&slow)]);
    let part = d.join("out/slow.flowtuple.series.part");
    let out = series_of(d, &slow);
    let resources = ["--array=0-1", "--cpus-per-task=1", "--mem=700"];

    let job = submit(&cluster, d, &resources, &[]);
    wait_running(&cluster, &job, &part);
    cluster.run("scancel", &[format!("{job}_1")]);
    cluster.wait(&job);
    let tasks = cluster.tasks(&job);
    assert_eq!(
        (tasks[&0].state.as_str(), tasks[&1].state.as_str()),
        ("COMPLETED", "CANCELLED")
    );
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

    // A task killed outright leaves its .part.
    let job = submit(&cluster, d, &resources, &[]);
    wait_running(&cluster, &job, &part);
    kill_outright(&slow);
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
    let resources = [
        "--array=0-1",
        &format!("--cpus-per-task={cpus}"),
        "--mem-per-cpu=400",
    ];
    let job = submit(
        &cluster,
        d,
        &resources,
        &[("SLURM_TMPDIR", scratch.as_os_str())],
    );
    cluster.wait(&job);
    for task in cluster.tasks(&job).values() {
        assert_eq!(task.state, "COMPLETED");
        let mem = 400 * cpus;
        assert!(
            task.tres.starts_with(&format!("cpu={cpus},mem={mem}M,")),
            "{task:?}"
        );
    }
    let (logged, command) = task_log(d, &job, 1);
    assert_eq!(logged, [format!("ok {}", show(&slow))]);
    // 400 MiB a CPU: for two, L + 32 + 2 * (24 + 2% of L) <= 800 MiB:
    // 720 / 1.04 = 692.3; for one, L + 32 + 24 + 2% of L <= 400 MiB:
    // 344 / 1.02 = 337.3.
    let limit = if cpus == 2 { 692 } else { 337 };
    let temp = show(&scratch);
    assert_eq!(
        command,
        format!("flowtuple-series -j {cpus} --memory-limit {limit}M --temp-dir {temp} --mode nonspoofed INPUT")
    );
    assert!(!part.exists());
    assert_eq!(std::fs::read(&out).unwrap(), alone(&slow, &[]));
    assert_eq!(
        report(d, "files.txt"),
        (Some(0), "2 inputs: 2 done, 0 failed, 0 missing\n".into())
    );
}

#[test]
fn a_requeued_task_removes_its_part_and_its_rerun_finishes() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = d.join("a.flowtuple.avro");
    std::fs::copy(testdata("flowtuple/minutes.avro"), &a).unwrap();
    let (slow, writer) = slow_input(d);
    write_list(d, &[show(&a), show(&slow)]);
    let part = d.join("out/slow.flowtuple.series.part");
    let resources = ["--array=0-1", "--cpus-per-task=1", "--mem=700", "--requeue"];

    let job = submit(&cluster, d, &resources, &[]);
    wait_running(&cluster, &job, &part);
    // Requeued (SIGTERM, as a preemption or a node's return would) and held.
    let task = format!("{job}_1");
    cluster.run("scontrol", &["requeuehold", &task]);
    let start = Instant::now();
    while part.exists() || cluster.queue_state(&task) != "PENDING" {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (logged, _) = task_log(d, &job, 1);
    assert_eq!(logged, [format!("FAILED 143 {} (cancelled)", show(&slow))]);

    drop(writer);
    std::fs::remove_file(&slow).unwrap();
    std::fs::copy(testdata("flowtuple/small-null.avro"), &slow).unwrap();
    // It starts again once its credential expires (cred_expire, see slurm.rs).
    cluster.run("scontrol", &["release", &task]);
    cluster.wait(&job);
    let tasks = cluster.tasks(&job);
    let log = std::fs::read_to_string(d.join(format!("log-{job}-1.txt"))).unwrap();
    assert!(
        tasks.values().all(|t| t.state == "COMPLETED"),
        "{tasks:?} {log}{}",
        cluster.logs()
    );
    let (logged, _) = task_log(d, &job, 1);
    assert_eq!(logged, [format!("ok {}", show(&slow))]);
    assert_eq!(
        std::fs::read(series_of(d, &slow)).unwrap(),
        alone(&slow, &[])
    );
    assert_eq!(
        report(d, "files.txt"),
        (Some(0), "2 inputs: 2 done, 0 failed, 0 missing\n".into())
    );
}
