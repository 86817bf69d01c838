//! README and `docs/` stay true: the README's first commands run, CI runs
//! the README's test command, and every relative link names a file that
//! exists.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{bin, temp_copy, testdata, text};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The lines of the README's first fenced block.
fn first_block(readme: &str) -> Vec<String> {
    let (_, rest) = readme.split_once("```sh\n").expect("README: a sh block");
    let (block, _) = rest.split_once("```").unwrap();
    block.lines().map(str::to_string).collect()
}

/// The arguments after `cargo run ... --bin NAME --` in a command line, up
/// to the first shell operator.
fn cargo_run_args(line: &str, name: &str) -> Vec<String> {
    let marker = format!("--bin {name} -- ");
    let (_, rest) = line
        .split_once(&marker)
        .unwrap_or_else(|| panic!("no `{marker}` in {line}"));
    rest.split(" && ")
        .next()
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn readme_first_command_runs_the_main_job_on_shipped_data() {
    let lines = first_block(&read("README.md"));
    assert_eq!(lines.len(), 2, "README's first block: {lines:?}");
    let args = cargo_run_args(&lines[0], "flowtuple-series");
    for arg in &args {
        if arg.contains('/') {
            assert!(
                repo().join(arg).is_file(),
                "README names {arg}, not shipped"
            );
        }
    }
    let out = bin("flowtuple-series")
        .current_dir(repo())
        .args(&args)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.lines().count() > 10 && stdout.contains(" summary overall packets "),
        "{stdout}"
    );
}

#[test]
fn ci_runs_the_readme_test_command() {
    let lines = first_block(&read("README.md"));
    let test_command = &lines[1];
    assert!(
        test_command.contains("cargo test --workspace"),
        "{test_command}"
    );
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.contains(test_command.as_str())),
        ".ci/run does not run README's test command `{test_command}`"
    );
    let script = test_command.split_whitespace().next().unwrap();
    assert!(repo().join(script).is_file(), "{script}");
}

#[test]
fn readme_netprofile_command_writes_profiles() {
    let readme = read("README.md");
    let line = readme
        .lines()
        .find(|l| l.starts_with("d=$(mktemp -d) && cp -r testdata/netprofile/root/."))
        .expect("README: the netprofile command");
    assert_eq!(cargo_run_args(line, "netprofile"), ["\"$d\""]);
    let root = temp_copy("netprofile/root");
    let out = bin("netprofile")
        .env("NETPROFILE_NOW", "2026-11-30T07:05:00")
        .arg(root.path())
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for tag in ["1", "2", "3"] {
        let latest = root.path().join(tag).join("latest.json");
        let profile = fs::read_to_string(&latest).unwrap();
        assert!(profile.starts_with("{\"") && profile.ends_with("}\n"));
    }
    assert!(testdata("netprofile/root/notes").is_dir());
}

/// Relative link targets in one Markdown file, without anchors.
fn relative_links(markdown: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = markdown;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let end = rest.find(')').unwrap_or(rest.len());
        let target = &rest[..end];
        if !target.contains("://") && !target.starts_with('#') && !target.is_empty() {
            links.push(target.split('#').next().unwrap().to_string());
        }
    }
    links
}

#[test]
fn every_relative_link_in_readme_and_docs_exists() {
    let mut files = vec![repo().join("README.md")];
    for entry in fs::read_dir(repo().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut checked = 0;
    for file in &files {
        let dir: &Path = file.parent().unwrap();
        for link in relative_links(&fs::read_to_string(file).unwrap()) {
            assert!(
                dir.join(&link).exists(),
                "{}: link to {link}, which does not exist",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} links found");
}

#[test]
fn readme_stays_short() {
    let lines = read("README.md").lines().count();
    assert!(
        lines <= 400,
        "README has {lines} lines; move reference to docs/"
    );
}
