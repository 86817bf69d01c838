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

/// Writes the man page (roff, section 1) of `cmd` to `out`.
pub fn man(cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    out.write_all(&buf)
}

/// Prints the completions or the man page on stdout when asked for;
/// true when it did (the binary then exits 0). A closed stdout is no error.
pub fn print_if_asked(
    cmd: Command,
    completions_for: Option<Shell>,
    man_page: bool,
) -> io::Result<bool> {
    let mut out = io::stdout().lock();
    let result = match (completions_for, man_page) {
        (Some(shell), _) => completions(cmd, shell, &mut out),
        (None, true) => man(cmd, &mut out),
        (None, false) => return Ok(false),
    };
    match result.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(true),
    }
}
