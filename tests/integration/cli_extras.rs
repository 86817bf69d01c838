//! Command-line details of both tools: completions, man pages, --version,
//! flowtuple-series' usage checks and its CSV header.

use crate::util::{bin, testdata, text, Checked};

fn fixture(name: &str) -> String {
    testdata(&format!("flowtuple/{name}"))
        .to_string_lossy()
        .into_owned()
}

fn run(tool: &str, args: &[&str]) -> (String, String, i32) {
    let out = crate::util::output(bin(tool).args(args));
    let (o, e) = text(&out);
    (o, e, out.status.code().unwrap_or(-1))
}

#[test]
fn completions_man_pages_and_version_generate() {
    for tool in ["flowtuple-series", "netprofile"] {
        for (shell, needle) in [
            ("bash", format!("complete -F _{}", tool.replace('-', "__"))),
            ("zsh", format!("#compdef {tool}")),
            ("fish", format!("complete -c {tool}")),
        ] {
            let (out, err, code) = run(tool, &["--completions", shell]);
            assert_eq!(code, 0, "{tool} {shell}: {err}");
            assert!(out.contains(&needle), "{tool} {shell}: lacks {needle}");
            // Completion of the options defined in cli.rs.
            assert!(
                out.contains("threads") || out.contains("horizon"),
                "{tool} {shell}"
            );
        }
        let (out, err, code) = run(tool, &["--man"]);
        assert_eq!(code, 0, "{tool}: {err}");
        assert!(out.contains(&format!(".TH {tool} 1")), "{tool}: {out}");
        assert!(out.contains(".SH SYNOPSIS") && out.contains(".SH OPTIONS"));
        assert!(out.contains("\\-\\-completions"), "{tool}");
        let (out, _, code) = run(tool, &["-V"]);
        assert_eq!(code, 0);
        assert_eq!(out, format!("{tool} {}\n", env!("CARGO_PKG_VERSION")));
        // Not combinable with a run.
        let (_, _, code) = run(tool, &["--man", "x"]);
        assert_eq!(code, 2, "{tool}: --man with arguments");
        let (_, err, code) = run(tool, &["--completions", "tcsh"]);
        assert_eq!(code, 2);
        assert!(err.contains("bash"), "{err}");
    }
}

#[test]
fn flowtuple_help_shows_both_forms() {
    let (out, _, code) = run("flowtuple-series", &["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("  <FILE> <MODE>  "), "{out}");
    assert!(out.contains("  --mode <MODE> <FILE>...  "), "{out}");
    assert!(!out.contains("<ARGS>"), "{out}");
}

#[test]
fn a_mode_name_as_a_missing_file_is_a_usage_error() {
    let small = fixture("small-null.avro");
    let (out, err, code) = run(
        "flowtuple-series",
        &["--mode", "unfiltered", &small, "unfiltered"],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "", "nothing read or printed");
    assert!(
        err.contains("`unfiltered` is a mode name, not an existing file"),
        "{err}"
    );
    // A file that exists under a mode's name is processed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&small, dir.path().join("nonspoofed")).unwrap();
    let out = bin("flowtuple-series")
        .current_dir(dir.path())
        .args(["--mode", "nonspoofed", "nonspoofed"])
        .output()
        .checked();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let expected = std::fs::read(testdata("flowtuple/expected/small.nonspoofed.txt")).unwrap();
    assert_eq!(out.stdout, expected);
}

#[test]
fn a_positional_mode_typo_gets_a_hint() {
    let small = fixture("small-null.avro");
    let (_, err, code) = run("flowtuple-series", &[&small, "nonspofed"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("tip: a similar value exists: 'nonspoofed'"),
        "{err}"
    );
    let (_, err, _) = run("flowtuple-series", &["-m", "nonspofed", &small]);
    assert!(
        err.contains("tip: a similar value exists: 'nonspoofed'"),
        "{err}"
    );
}

#[test]
fn options_without_effect_are_usage_errors() {
    let small = fixture("small-null.avro");
    for (args, want) in [
        (
            &["--label", "x", "unfiltered"][..],
            "--label sets the key prefix of --format timeseries only",
        ),
        (
            &["--format", "csv", "--label", "x", "unfiltered"],
            "--label",
        ),
        (
            &["--geo", "both", "unfiltered"],
            "--geo has no effect in mode unfiltered",
        ),
        (
            &["--geo", "netacq", "unrouted-nonspoofed"],
            "--geo has no effect",
        ),
        (
            &["--tcp-src-ports", "80", "unfiltered-ipmeta"],
            "--tcp-src-ports has no effect in mode unfiltered-ipmeta",
        ),
        (
            &["--udp-dst-ports", "53", "unrouted-nonspoofed"],
            "--udp-dst-ports has no effect",
        ),
    ] {
        let mut argv: Vec<&str> = args[..args.len() - 1].to_vec();
        argv.extend([small.as_str(), args[args.len() - 1]]);
        let (out, err, code) = run("flowtuple-series", &argv);
        assert_eq!(code, 2, "{argv:?}: {err}");
        assert_eq!(out, "");
        assert!(err.contains(want), "{argv:?}: {err}");
    }
    // Where they apply, they are accepted.
    for args in [
        &[
            "--format",
            "timeseries",
            "--label",
            "x",
            "unrouted-nonspoofed",
        ][..],
        &["--geo", "maxmind", "unfiltered-ipmeta"],
        &["--tcp-src-ports", "80", "nonspoofed"],
    ] {
        let mut argv: Vec<&str> = args[..args.len() - 1].to_vec();
        argv.extend([small.as_str(), args[args.len() - 1]]);
        let (_, err, code) = run("flowtuple-series", &argv);
        assert_eq!(code, 0, "{argv:?}: {err}");
    }
}

#[test]
fn csv_header_only_when_a_file_succeeds() {
    let header = "time,class,key,packets,bytes,uniq_src_ips,uniq_dst_ips,uniq_src_asns\n";
    let bad = [fixture("notavro.bin"), fixture("empty.avro")];
    // Every file fails: no header.
    let (out, _, code) = run(
        "flowtuple-series",
        &["--format", "csv", &bad[0], "unfiltered"],
    );
    assert_eq!((out.as_str(), code), ("", 1));
    let (out, _, code) = run(
        "flowtuple-series",
        &["--format", "csv", "--mode", "unfiltered", &bad[0], &bad[1]],
    );
    assert_eq!((out.as_str(), code), ("", 1));
    // A file without records that succeeds: the header alone.
    let (out, _, code) = run(
        "flowtuple-series",
        &[
            "--format",
            "csv",
            "--mode",
            "unfiltered",
            &bad[0],
            &fixture("norecords.avro"),
        ],
    );
    assert_eq!(code, 1);
    let want = std::fs::read_to_string(testdata("flowtuple/expected/norecords.unfiltered.csv.txt"))
        .unwrap();
    assert_eq!(out, want);
    assert!(out.starts_with(header));
    // A failed file first, then a good one: the header once, before the rows.
    for threads in ["1", "2"] {
        let (out, _, code) = run(
            "flowtuple-series",
            &[
                "--format",
                "csv",
                "-j",
                threads,
                "--mode",
                "nonspoofed",
                &bad[0],
                &fixture("small-null.avro"),
                &bad[1],
            ],
        );
        assert_eq!(code, 1);
        let want = std::fs::read_to_string(testdata("flowtuple/expected/small.nonspoofed.csv.txt"))
            .unwrap();
        assert_eq!(out, want, "-j{threads}");
        assert_eq!(out.matches(header).count(), 1);
    }
}

/// The man pages' SYNOPSIS shows the usage's forms (not `[ARGS]`), and
/// their after-help text is laid out for roff: no pre-wrapped line is
/// copied (a line starting with spaces would be broken there by `man`,
/// leaving stranded words), tables are tagged paragraphs.
#[test]
fn man_pages_show_the_forms_and_flow_their_text() {
    let synopses = [
        (
            "flowtuple-series",
            ".SH SYNOPSIS\n\\fBflowtuple\\-series\\fR [OPTIONS] <FILE> <MODE>\n.br\n\
             \\fBflowtuple\\-series\\fR [OPTIONS] \\-\\-mode <MODE> <FILE>...\n.SH DESCRIPTION\n",
        ),
        (
            "netprofile",
            ".SH SYNOPSIS\n\\fBnetprofile\\fR [OPTIONS] <DATA_ROOT>\n.br\n\
             \\fBnetprofile\\fR \\-\\-completions <SHELL> | \\-\\-man\n.SH DESCRIPTION\n",
        ),
    ];
    for (tool, synopsis) in synopses {
        let (page, _, code) = run(tool, &["--man"]);
        assert_eq!(code, 0);
        assert!(page.contains(synopsis), "{tool}: {page}");
        assert!(
            !page.contains("[ARGS]") && !page.contains("FILE|MODE"),
            "{tool}"
        );
        assert!(!page.contains(".SH EXTRA"), "{tool}");
        let mut verbatim = false;
        for line in page.lines() {
            match line {
                ".nf" => verbatim = true,
                ".fi" => verbatim = false,
                _ if !verbatim => assert!(!line.starts_with(' '), "{tool}: {line:?}"),
                _ => {}
            }
        }
        assert!(page.contains(".SH \"EXIT STATUS\"") || page.contains(".SH EXIT STATUS"));
    }
    let (page, _, _) = run("flowtuple-series", &["--man"]);
    assert!(
        page.contains(".TP\n\\fBunrouted\\-nonspoofed\\fR\nnonspoofed records whose source is in a reserved, unrouted network"),
        "{page}"
    );
}

/// Bash completion offers the mode names for MODE in both forms: after
/// `--mode`, and as the second positional argument without it (not when
/// --mode is given: then every positional argument is a FILE).
#[test]
fn bash_completes_mode_names_for_mode() {
    let (script, _, code) = run("flowtuple-series", &["--completions", "bash"]);
    assert_eq!(code, 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("completion.bash");
    std::fs::write(&path, script).unwrap();
    let all = "unfiltered unfiltered-ipmeta nonspoofed unrouted-nonspoofed";
    let cases: [(&[&str], &str); 6] = [
        (&["a.avro", ""], all),
        (
            &["-j", "2", "a.avro", "u"],
            "unfiltered unfiltered-ipmeta unrouted-nonspoofed",
        ),
        (&["--temp-dir", "=", "/tmp", "a.avro", "non"], "nonspoofed"),
        (&["--mode", ""], all),
        (&["-m", "unr"], "unrouted-nonspoofed"),
        (&["--mode", "unfiltered", "no"], ""),
    ];
    for (words, want) in cases {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let probe = format!(
            "source '{}'\nCOMP_WORDS=(flowtuple-series {})\nCOMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
             COMPREPLY=()\n\
             _flowtuple_series_modes flowtuple-series \"${{COMP_WORDS[COMP_CWORD]}}\" \
             \"${{COMP_WORDS[COMP_CWORD-1]}}\"\necho \"${{COMPREPLY[*]}}\"\n",
            path.display(),
            quoted.join(" ")
        );
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&probe)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(text(&out).0.trim_end(), want, "{words:?}: {}", text(&out).1);
    }
}
