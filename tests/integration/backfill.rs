//! README's backfill recipes on fixture files: GNU parallel (in its local
//! form, `-S :`) here; the Slurm job array script
//! (`contrib/slurm/backfill.sh`) in `backfill_script.rs` and, on a real
//! Slurm, `backfill_slurm.rs`.

use std::os::unix::fs::FileTypeExt;
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
        .checked();
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

    // An output path that is a symlink or a FIFO is left alone: the job
    // fails (exit 2), the link and its target and the FIFO are untouched.
    let fresh = tempfile::tempdir().unwrap();
    let files = inputs(fresh.path());
    let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    std::fs::write(fresh.path().join("files.txt"), list).unwrap();
    std::fs::create_dir(fresh.path().join("out")).unwrap();
    let victim = fresh.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    let link = series_of(fresh.path(), &files[0]);
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let fifo = series_of(fresh.path(), &files[1]);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let third = Command::new("bash")
        .args(["-euc", &recipe])
        .current_dir(fresh.path())
        .env("PATH", path_with_binary())
        .output()
        .checked();
    // Three failed jobs: the symlink, the FIFO and the truncated file.
    assert_eq!(third.status.code(), Some(3), "{third:?}");
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(
        stderr.contains("not a regular file, left alone"),
        "{stderr}"
    );
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(
        std::fs::read(series_of(fresh.path(), &files[3])).unwrap(),
        alone(&files[3], &single)
    );
}
