//! Small helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Path of a file under the repository's `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// The names of the models `netprofile --model auto` can fit (blend
/// members named after the heaviest).
pub const AUTO_MODELS: [&str; 12] = [
    "seasonal-trend+lag24",
    "log-seasonal-trend+lag24",
    "log-weekend-daily+lag24",
    "weekend-daily+lag24",
    "log-weekend-sunday+lag24",
    "weekend-sunday+lag24",
    "log-mstl",
    "log-mstl-drift",
    "mstl",
    "mstl-drift",
    "snaive168",
    "snaive-daytype",
];

/// A command for one of this package's binaries.
pub fn bin(name: &str) -> Command {
    match name {
        "flowtuple-series" => Command::new(env!("CARGO_BIN_EXE_flowtuple-series")),
        "netprofile" => Command::new(env!("CARGO_BIN_EXE_netprofile")),
        other => panic!("unknown binary {other}"),
    }
}

/// The line flowtuple-series ends a run of several files with.
pub fn tally(files: usize, ok: usize, failed: usize) -> String {
    format!("flowtuple-series: {files} files: {ok} ok, {failed} failed\n")
}

/// Asserts the rules every message of both tools keeps (issue 20): no Rust
/// debug form (`Error {`, `kind:`), no clause said twice in a line (a
/// cause quoted by the message around it), and the warning that printed
/// output must not be trusted only when something was printed.
pub fn assert_plain_stderr(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    for line in err.lines() {
        for debug in ["Error {", "kind:"] {
            assert!(!line.contains(debug), "`{debug}` in {line:?}");
        }
        let clauses: Vec<&str> = line
            .split([':', ';'])
            .map(str::trim)
            .filter(|c| c.len() >= 12)
            .collect();
        for (i, c) in clauses.iter().enumerate() {
            assert!(
                !clauses[i + 1..].contains(c),
                "{c:?} said twice in {line:?}"
            );
        }
    }
    // (With Kafka the warning says "already published": stdout stays empty.)
    if err.contains("must not be trusted") && !err.contains("already published") {
        assert!(
            !out.stdout.is_empty(),
            "warned of printed output, none printed: {err}"
        );
    }
}

/// Runs `cmd` to its end, checking its stderr with [`assert_plain_stderr`].
pub fn output(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert_plain_stderr(&out);
    out
}

/// `.output().checked()`: a finished command's output, its stderr checked
/// with [`assert_plain_stderr`].
pub trait Checked {
    /// The output; panics if the command could not run.
    fn checked(self) -> Output;
}

impl Checked for std::io::Result<Output> {
    fn checked(self) -> Output {
        let out = self.unwrap();
        assert_plain_stderr(&out);
        out
    }
}

/// Stdout and stderr of a finished command as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies the directory tree `src` into `dst` (created), following no
/// symlinks.
pub fn copy_tree(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// A temporary copy of `testdata/<rel>`.
pub fn temp_copy(rel: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&testdata(rel), dir.path());
    dir
}

/// Sorted file names in a directory.
pub fn list(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A parsed JSON value; objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// null, true or false.
    Literal(String),
    /// A number.
    Number(f64),
    /// A string (escapes other than \" and \\ are kept verbatim).
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, in file order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses a whole JSON text; panics on malformed input.
    pub fn parse(text: &str) -> Json {
        let b = text.as_bytes();
        let mut i = 0;
        let v = Self::value(b, &mut i);
        Self::ws(b, &mut i);
        assert_eq!(i, b.len(), "trailing data in JSON");
        v
    }

    /// The object's entries; panics when not an object.
    pub fn entries(&self) -> &[(String, Json)] {
        match self {
            Json::Object(e) => e,
            other => panic!("not an object: {other:?}"),
        }
    }

    /// The object's keys in order.
    pub fn keys(&self) -> Vec<&str> {
        self.entries().iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The member `key`; panics when absent.
    pub fn get(&self, key: &str) -> &Json {
        &self
            .entries()
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no key {key}"))
            .1
    }

    /// The number; panics when not a number.
    pub fn num(&self) -> f64 {
        match self {
            Json::Number(n) => *n,
            other => panic!("not a number: {other:?}"),
        }
    }

    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }

    fn string(b: &[u8], i: &mut usize) -> String {
        assert_eq!(b[*i], b'"');
        *i += 1;
        let mut s = Vec::new();
        while b[*i] != b'"' {
            if b[*i] == b'\\' {
                *i += 1;
            }
            s.push(b[*i]);
            *i += 1;
        }
        *i += 1;
        String::from_utf8(s).unwrap()
    }

    fn value(b: &[u8], i: &mut usize) -> Json {
        Self::ws(b, i);
        match b[*i] {
            b'{' => {
                *i += 1;
                let mut e = Vec::new();
                Self::ws(b, i);
                if b[*i] == b'}' {
                    *i += 1;
                    return Json::Object(e);
                }
                loop {
                    Self::ws(b, i);
                    let k = Self::string(b, i);
                    Self::ws(b, i);
                    assert_eq!(b[*i], b':');
                    *i += 1;
                    e.push((k, Self::value(b, i)));
                    Self::ws(b, i);
                    *i += 1;
                    if b[*i - 1] == b'}' {
                        return Json::Object(e);
                    }
                    assert_eq!(b[*i - 1], b',');
                }
            }
            b'[' => {
                *i += 1;
                let mut a = Vec::new();
                Self::ws(b, i);
                if b[*i] == b']' {
                    *i += 1;
                    return Json::Array(a);
                }
                loop {
                    a.push(Self::value(b, i));
                    Self::ws(b, i);
                    *i += 1;
                    if b[*i - 1] == b']' {
                        return Json::Array(a);
                    }
                    assert_eq!(b[*i - 1], b',');
                }
            }
            b'"' => Json::Str(Self::string(b, i)),
            _ => {
                let start = *i;
                while *i < b.len() && !b",]} \n\r\t".contains(&b[*i]) {
                    *i += 1;
                }
                let t = std::str::from_utf8(&b[start..*i]).unwrap();
                match t.parse::<f64>() {
                    Ok(n) => Json::Number(n),
                    Err(_) => {
                        assert!(["null", "true", "false"].contains(&t), "bad JSON token {t}");
                        Json::Literal(t.to_string())
                    }
                }
            }
        }
    }
}
