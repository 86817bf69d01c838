//! Usage checks beyond clap's: arguments that are well-formed but cannot be
//! what the user meant (a mode name where a file belongs, a misspelt mode,
//! an option that has no effect in the chosen mode or format).

use std::path::Path;

use telescope_core::flowtuple::{Format, Mode};

/// `msg` with clap's hint for a misspelt value: the mode nearest to `given`
/// (Jaro similarity above 0.7, as clap does for `--mode`).
pub fn with_suggestion(msg: String, given: &str) -> String {
    let best = Mode::ALL
        .iter()
        .map(|m| (strsim::jaro(given, m.name()), m.name()))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, name)) => format!("{msg}\n\n  tip: a similar value exists: '{name}'"),
        None => msg,
    }
}

/// The error of an unknown MODE (`given`, after FILE `file`): with the
/// hint that the two are swapped when FILE is a mode name, else clap's
/// hint for a misspelt value.
pub fn mode_hint(msg: String, file: &str, given: &str) -> String {
    if file.parse::<Mode>().is_ok() && !Path::new(file).exists() {
        return format!(
            "{msg}\n\n  tip: FILE comes first, then MODE: `flowtuple-series {given} {file}` \
             (or `--mode {file} {given}`)"
        );
    }
    with_suggestion(msg, given)
}

/// With `--mode`, every positional argument is a file: one that is a mode
/// name and does not exist is most likely the single-file form's MODE typed
/// by habit, so it is refused before anything is read. A file that exists
/// under a mode's name is processed.
pub fn no_mode_names_as_missing_files(files: &[String]) -> Result<(), String> {
    match files
        .iter()
        .find(|f| f.parse::<Mode>().is_ok() && !Path::new(f.as_str()).exists())
    {
        Some(f) => Err(format!(
            "`{f}` is a mode name, not an existing file: with --mode every positional \
             argument is a FILE (use `FILE MODE` or `--mode MODE FILE...`)"
        )),
        None => Ok(()),
    }
}

/// Which options were given on the command line (not defaulted).
#[derive(Debug, Default, Clone, Copy)]
pub struct Given {
    /// `--label`.
    pub label: bool,
    /// `--geo`.
    pub geo: bool,
    /// `--tcp-src-ports`.
    pub tcp_src_ports: bool,
    /// `--tcp-dst-ports`.
    pub tcp_dst_ports: bool,
    /// `--udp-src-ports`.
    pub udp_src_ports: bool,
    /// `--udp-dst-ports`.
    pub udp_dst_ports: bool,
}

/// Refuses options that would be silently ignored: `--label` without
/// `--format timeseries`, `--geo` in a mode without geo series, port ranges
/// in a mode without port series.
pub fn options_apply(mode: Mode, format: Format, given: &Given) -> Result<(), String> {
    if given.label && format != Format::Timeseries {
        return Err("--label sets the key prefix of --format timeseries only".into());
    }
    let has_geo = matches!(mode, Mode::UnfilteredIpmeta | Mode::Nonspoofed);
    if given.geo && !has_geo {
        return Err(format!(
            "--geo has no effect in mode {mode} (no geo series; modes with geo: \
             unfiltered-ipmeta, nonspoofed)"
        ));
    }
    let has_ports = matches!(mode, Mode::Unfiltered | Mode::Nonspoofed);
    let ports = [
        (given.tcp_src_ports, "--tcp-src-ports"),
        (given.tcp_dst_ports, "--tcp-dst-ports"),
        (given.udp_src_ports, "--udp-src-ports"),
        (given.udp_dst_ports, "--udp-dst-ports"),
    ];
    if let Some((_, name)) = ports.iter().find(|(g, _)| *g && !has_ports) {
        return Err(format!(
            "{name} has no effect in mode {mode} (no port series; modes with ports: \
             unfiltered, nonspoofed)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_and_mode_names() {
        let s = mode_hint("bad".into(), "nonspoofed", "x.avro");
        assert!(s.contains("`flowtuple-series x.avro nonspoofed`"), "{s}");
        let s = mode_hint("bad".into(), "x.avro", "nonspofed");
        assert!(s.ends_with("'nonspoofed'"), "{s}");
        let s = with_suggestion("bad".into(), "nonspofed");
        assert!(s.ends_with("'nonspoofed'"), "{s}");
        assert_eq!(with_suggestion("bad".into(), "xyz"), "bad");
        assert!(no_mode_names_as_missing_files(&["a.avro".into()]).is_ok());
        assert!(no_mode_names_as_missing_files(&["a.avro".into(), "unfiltered".into()]).is_err());
    }
}
