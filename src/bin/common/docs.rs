//! `--completions SHELL` and `--man`: shell completions and a man page
//! generated from a binary's clap definition (shared by both binaries).

use std::io::{self, Write};

use clap::Command;
use clap_complete::Shell;

/// Writes the completion script of `cmd` for `shell` to `out`.
pub fn completions(mut cmd: Command, shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let name = cmd.get_name().to_string();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut buf);
    out.write_all(&buf)
}

/// Writes the man page (roff, section 1) of `cmd` to `out`: clap_mangen's,
/// with the SYNOPSIS of the usage's forms (clap_mangen lists every option
/// and a hidden positional as `[ARGS]`) and the after-help text laid out
/// for roff (see [`after_help`]) instead of copied line by line.
pub fn man(cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    let synopsis = cmd.clone().render_usage().to_string();
    let extra = cmd
        .get_after_long_help()
        .or(cmd.get_after_help())
        .map(|s| s.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    let page = String::from_utf8_lossy(&buf).into_owned();
    let page = replace_section(&page, "SYNOPSIS", &synopsis_section(&synopsis));
    let page = match extra {
        Some(text) => replace_section(&page, "EXTRA", &after_help(&text)),
        None => page,
    };
    out.write_all(page.as_bytes())
}

/// `page` with section `.SH name` (up to the next `.SH`) replaced by
/// `section` (which starts with its own `.SH` line).
fn replace_section(page: &str, name: &str, section: &str) -> String {
    let head = format!(".SH {name}\n");
    let Some(start) = page.find(&head) else {
        return page.to_string();
    };
    let end = page[start + head.len()..]
        .find("\n.SH ")
        .map_or(page.len(), |i| start + head.len() + i + 1);
    format!("{}{section}{}", &page[..start], &page[end..])
}

/// The SYNOPSIS of a usage text (`Usage: a [OPTIONS] <X>`, further forms on
/// indented lines): one line per form, the name in bold.
fn synopsis_section(usage: &str) -> String {
    let usage = usage.trim_start_matches("Usage:");
    let mut out = String::from(".SH SYNOPSIS\n");
    for (i, form) in usage
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push_str(".br\n");
        }
        let (name, rest) = form.split_once(' ').unwrap_or((form, ""));
        out.push_str(&format!("\\fB{}\\fR {}\n", escape(name), escape(rest)));
    }
    out
}

/// Roff text: backslashes and dashes escaped, a leading `.` or `'` made
/// literal.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    match text.starts_with(['.', '\'']) {
        true => format!("\\&{text}"),
        false => text,
    }
}

/// One piece of an after-help body.
enum Piece {
    /// `term  text` (text continued on deeper-indented lines): `.TP`.
    Item(String, String),
    /// Prose, filled.
    Prose(String),
    /// A command or format line, kept as it is.
    Verbatim(String),
}

/// The after-help text (blocks separated by blank lines, each a heading
/// line ending in `:` and an indented body, or prose) as roff: a short
/// heading becomes a section, a table (`term  text` lines) tagged
/// paragraphs, prose filled paragraphs, and command lines stay as they
/// are; so `man` neither strands words of pre-wrapped lines nor runs
/// table columns together.
pub fn after_help(text: &str) -> String {
    let mut out = String::new();
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
        let head_len = lines.iter().take_while(|l| !l.starts_with(' ')).count();
        let head = lines[..head_len].join(" ");
        match head.strip_suffix(':') {
            Some(title) if head_len == 1 && title.len() <= 24 => {
                out.push_str(&format!(".SH {}\n", escape(&title.to_uppercase())));
            }
            _ if !head.is_empty() => {
                open_section(&mut out);
                out.push_str(&format!(".PP\n{}\n", escape(&head)));
            }
            _ => open_section(&mut out),
        }
        for piece in pieces(&lines[head_len..]) {
            out.push_str(&match piece {
                Piece::Item(term, text) => {
                    format!(".TP\n\\fB{}\\fR\n{}\n", escape(&term), escape(&text))
                }
                Piece::Prose(text) => format!(".IP\n{}\n", escape(&text)),
                Piece::Verbatim(line) => format!(".IP\n.nf\n{}\n.fi\n", escape(&line)),
            });
        }
    }
    out
}

/// Opens a DETAILS section when text comes before any heading.
fn open_section(out: &mut String) {
    if out.is_empty() {
        out.push_str(".SH DETAILS\n");
    }
}

/// The pieces of an indented body.
fn pieces(body: &[&str]) -> Vec<Piece> {
    let base = body.first().map_or(0, |l| l.len() - l.trim_start().len());
    let mut pieces: Vec<Piece> = Vec::new();
    for line in body {
        let indent = line.len() - line.trim_start().len();
        let content = line.trim();
        let continued = match pieces.last_mut() {
            Some(Piece::Item(_, text)) if indent > base => Some(text),
            Some(Piece::Prose(text)) if indent == base && !starts_piece(content) => Some(text),
            _ => None,
        };
        if let Some(text) = continued {
            text.push(' ');
            text.push_str(content);
            continue;
        }
        pieces.push(match content.split_once("  ") {
            Some((term, text)) if indent == base && !term.contains(". ") => {
                Piece::Item(term.to_string(), text.trim().to_string())
            }
            _ if starts_piece(content) => Piece::Verbatim(content.to_string()),
            _ => Piece::Prose(content.to_string()),
        });
    }
    pieces
}

/// A line kept as it is: a format (`<time> ...`) or a command line.
fn starts_piece(content: &str) -> bool {
    content.starts_with('<')
        || content.starts_with("flowtuple-series ")
        || content.starts_with("netprofile ")
}

/// Prints the completions or the man page on stdout when asked for;
/// true when it did (the binary then exits 0). A closed stdout is no error.
#[allow(dead_code)] // netprofile's; flowtuple-series adds to bash's script
pub fn print_if_asked(
    cmd: Command,
    completions_for: Option<Shell>,
    man_page: bool,
) -> io::Result<bool> {
    print_if_asked_with(cmd, completions_for, man_page, "")
}

/// [`print_if_asked`], with `bash_extra` appended to the bash script.
pub fn print_if_asked_with(
    cmd: Command,
    completions_for: Option<Shell>,
    man_page: bool,
    bash_extra: &str,
) -> io::Result<bool> {
    let mut out = io::stdout().lock();
    let result = match (completions_for, man_page) {
        (Some(Shell::Bash), _) => completions(cmd, Shell::Bash, &mut out)
            .and_then(|()| out.write_all(bash_extra.as_bytes())),
        (Some(shell), _) => completions(cmd, shell, &mut out),
        (None, true) => man(cmd, &mut out),
        (None, false) => return Ok(false),
    };
    match result.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(true),
    }
}
