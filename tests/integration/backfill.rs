//! README's backfill recipes on fixture files: GNU parallel (in its local
//! form, `-S :`) here; the Slurm job array script
//! (`contrib/slurm/backfill.sh`) in `backfill_script.rs` and, on a real
//! Slurm, `backfill_slurm.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{bin, testdata};

/// The GNU parallel block of README's "Backfills" section.
fn parallel_recipe() -> String {
    let readme = std::fs::read_to_string(testdata("../README.md")).unwrap();
    let (_, rest) = readme
        .split_once("<!-- the block below is run by tests/integration/backfill.rs -->\n```sh\n")
        .expect("README: the backfill block");
    rest.split_once("```").unwrap().0.to_string()
}

/// PATH with flowtuple-series first.
pub fn path_with_binary() -> String {
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
pub fn alone(file: &Path, options: &[&str]) -> Vec<u8> {
    let out = bin("flowtuple-series")
        .args(options)
        .arg(file)
        .arg("nonspoofed")
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Copies fixtures into `dir` under new names: three good, one truncated.
pub fn inputs(dir: &Path) -> Vec<PathBuf> {
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

pub fn series_of(dir: &Path, input: &Path) -> PathBuf {
    let name = input.file_name().unwrap().to_string_lossy();
    dir.join("out")
        .join(format!("{}.series", name.strip_suffix(".avro").unwrap()))
}

#[test]
fn the_gnu_parallel_recipe_writes_one_file_per_input_and_retries_failures() {
    if !parallel_installed() {
        // .ci/run installs it; a developer machine may lack it.
        eprintln!("SKIPPED: GNU parallel is not installed (apt-get install parallel)");
        return;
    }
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
            .unwrap()
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
