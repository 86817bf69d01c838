//! Usage errors of both binaries: clap's, without a tip that misleads.

use std::path::Path;

/// Exits with clap's error (or help), leaving out its tip to pass an
/// unknown `-x` "as a value, use '-- -x'": it misleads when `-x` is a
/// mistyped option (it would become a FILE). The tip stays when a file of
/// that name exists.
pub fn exit_without_misleading_tips(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) if e.kind() == ErrorKind::UnknownArgument => arg.clone(),
        _ => e.exit(),
    };
    if Path::new(&arg).exists() {
        e.exit()
    }
    let text = without_tip(&e.render().to_string(), &arg);
    eprint!("{text}");
    std::process::exit(e.exit_code())
}

/// `text` without the lines of clap's tip to pass `arg` as a value.
fn without_tip(text: &str, arg: &str) -> String {
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            !l.trim_start()
                .starts_with(&format!("tip: to pass '{arg}' as a value"))
        })
        .collect();
    let mut kept = kept.join("\n");
    // Collapse the blank lines the tip leaves behind.
    while kept.contains("\n\n\n") {
        kept = kept.replace("\n\n\n", "\n\n");
    }
    if !kept.ends_with('\n') {
        kept.push('\n');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::without_tip;

    #[test]
    fn the_tip_to_pass_a_value_is_left_out() {
        let text = "error: unexpected argument '-x' found\n\n  tip: to pass '-x' as a value, \
                    use '-- -x'\n\nUsage: flowtuple-series [OPTIONS] <FILE> <MODE>\n\n\
                    For more information, try '--help'.\n";
        assert_eq!(
            without_tip(text, "-x"),
            "error: unexpected argument '-x' found\n\nUsage: flowtuple-series [OPTIONS] \
             <FILE> <MODE>\n\nFor more information, try '--help'.\n"
        );
    }
}
