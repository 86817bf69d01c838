//! README's backfill recipes: GNU parallel (in its local form, `-S :`) and
//! the Slurm job array script, on fixture files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{bin, testdata, Checked};

/// The GNU parallel block of README's "Backfills" section.
fn parallel_recipe() -> String {
    let readme = std::fs::read_to_string(testdata("../README.md")).unwrap();
    let (_, rest) = readme
        .split_once("<!-- the block below is run by tests/integration/backfill.rs -->\n```sh\n")
        .expect("README: the backfill block");
    rest.split_once("```").unwrap().0.to_string()
}

/// PATH with flowtuple-series first.
fn path_with_binary() -> String {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_flowtuple-series"));
    let dir = exe.parent().unwrap().to_string_lossy().into_owned();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

fn parallel_installed() -> bool {
    Command::new("parallel")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The output of one file run alone, as the recipes run it.
fn alone(file: &Path, options: &[&str]) -> Vec<u8> {
    let out = bin("flowtuple-series")
        .args(options)
        .arg(file)
        .arg("nonspoofed")
        .output()
        .checked();
    assert!(out.status.success());
    out.stdout
}

/// Copies fixtures into `dir` under new names: three good, one truncated.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let files = [
        ("a.flowtuple.avro", "minutes.avro"),
        ("b.flowtuple.avro", "small-null.avro"),
        ("bad.flowtuple.avro", "cutoff.avro"),
        ("c.flowtuple.avro", "thread-a.avro"),
    ];
    files
        .iter()
        .map(|(to, from)| {
            let to = dir.join(to);
            std::fs::copy(testdata(&format!("flowtuple/{from}")), &to).unwrap();
            to
        })
        .collect()
}

fn series_of(dir: &Path, input: &Path) -> PathBuf {
    let name = input.file_name().unwrap().to_string_lossy();
    dir.join("out")
        .join(format!("{}.series", name.strip_suffix(".avro").unwrap()))
}

#[test]
fn the_gnu_parallel_recipe_writes_one_file_per_input_and_retries_failures() {
    assert!(
        parallel_installed(),
        "README's backfill recipe needs GNU parallel: run scripts/install-test-servers.sh \
         as root (README's test command does), or apt-get install parallel"
    );
    let dir = tempfile::tempdir().unwrap();
    let files = inputs(dir.path());
    let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    std::fs::write(dir.path().join("files.txt"), list).unwrap();
    let recipe = parallel_recipe();
    assert!(recipe.contains("hosts=:"), "{recipe}");
    let run = || -> Output {
        Command::new("bash")
            .args(["-euc", &recipe])
            .current_dir(dir.path())
            .env("PATH", path_with_binary())
            .output()
            .checked()
    };
    let joblog = || -> Vec<Vec<String>> {
        std::fs::read_to_string(dir.path().join("backfill.joblog"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split('\t').map(String::from).collect())
            .collect()
    };
    let single = ["-j", "1", "--memory-limit", "1G"];

    let first = run();
    // parallel's status: the number of failed jobs.
    assert_eq!(first.status.code(), Some(1), "{first:?}");
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("bad.flowtuple.avro: truncated file"),
        "{stderr}"
    );
    for file in &files {
        let out = series_of(dir.path(), file);
        if file.ends_with("bad.flowtuple.avro") {
            assert!(!out.exists(), "no output for a failed file");
        } else {
            assert_eq!(
                std::fs::read(&out).unwrap(),
                alone(file, &single),
                "{}",
                out.display()
            );
        }
    }
    let log = joblog();
    assert_eq!(log.len(), 4);
    for row in &log {
        // Exitval is the seventh column; the command is the last.
        let bad = row[8].contains("bad.flowtuple.avro");
        assert_eq!(row[6], if bad { "1" } else { "0" }, "{row:?}");
    }

    // The file is fixed; the same command retries it and only it.
    std::fs::copy(testdata("flowtuple/small-deflate.avro"), &files[2]).unwrap();
    let second = run();
    assert!(second.status.success(), "{second:?}");
    let log = joblog();
    assert_eq!(log.len(), 5, "{log:?}");
    assert!(log[4][8].contains("bad.flowtuple.avro") && log[4][6] == "0");
    assert_eq!(
        std::fs::read(series_of(dir.path(), &files[2])).unwrap(),
        alone(&files[2], &single)
    );
}

#[test]
fn the_slurm_script_splits_the_list_among_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let files = inputs(dir.path());
    let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    std::fs::write(dir.path().join("files.txt"), list).unwrap();
    let script = testdata("../examples/slurm_backfill.sh");
    let mut logs = Vec::new();
    for task in 0..3 {
        let out = Command::new("bash")
            .arg(&script)
            .args(["files.txt", "out", "nonspoofed", "--compat", "script"])
            .current_dir(dir.path())
            .env("SLURM_ARRAY_TASK_ID", (task + 10).to_string())
            .env("SLURM_ARRAY_TASK_MIN", "10")
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .env("FLOWTUPLE_SERIES", env!("CARGO_BIN_EXE_flowtuple-series"))
            .output()
            .checked();
        let log = String::from_utf8_lossy(&out.stdout).into_owned();
        // Task 0 has lines 0 and 3 (a and c), task 1 line 1, task 2 line 2
        // (bad).
        let want_ok = task != 2;
        assert_eq!(out.status.success(), want_ok, "task {task}: {log}");
        logs.push(log);
    }
    let abs = |i: usize| files[i].display().to_string();
    assert_eq!(logs[0], format!("ok {}\nok {}\n", abs(0), abs(3)));
    assert_eq!(logs[1], format!("ok {}\n", abs(1)));
    assert_eq!(logs[2], format!("FAILED 1 {}\n", abs(2)));
    let single = ["-j", "1", "--memory-limit", "1G", "--compat", "script"];
    for (i, file) in files.iter().enumerate() {
        let out = series_of(dir.path(), file);
        if i == 2 {
            assert!(!out.exists() && !out.with_extension("series.part").exists());
        } else {
            assert_eq!(std::fs::read(&out).unwrap(), alone(file, &single));
        }
    }
}
