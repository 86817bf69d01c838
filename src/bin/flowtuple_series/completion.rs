//! Bash completion of MODE in the form `FILE MODE`: clap's script
//! completes `--mode`'s values, but not the second positional argument,
//! which is a FILE or a MODE depending on the form; a wrapper counts the
//! positional arguments before the cursor and offers the mode names for
//! the second one when `--mode` is not given.

use clap::Command;
use telescope_core::flowtuple::Mode;

/// Bash lines to append to clap's script for `cmd`: the wrapper, and
/// `complete` lines that use it instead of clap's function.
pub fn bash_modes(cmd: &Command) -> String {
    let name = cmd.get_name().to_string();
    let clap_fn = format!("_{}", name.replace('-', "__"));
    let mut takes: Vec<String> = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
        if arg.get_action().takes_values() {
            takes.extend(arg.get_long().map(|l| format!("--{l}")));
            takes.extend(arg.get_short().map(|s| format!("-{s}")));
        }
    }
    let modes: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
    format!(
        r#"
# MODE, the second positional argument of `{name} FILE MODE`: the mode
# names (with --mode, every positional argument is a FILE).
_{fn_name}_modes() {{
    local i word positionals=0 takes=" {takes} "
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$word" in
            --mode | -m)
                {clap_fn} "$@"
                return 0
                ;;
            -*)
                if [[ "$takes" == *" $word "* ]]; then
                    if [[ "${{COMP_WORDS[i+1]}}" == "=" ]]; then
                        ((i += 2))
                    else
                        ((i += 1))
                    fi
                fi
                ;;
            *) ((positionals += 1)) ;;
        esac
    done
    if [[ $positionals -eq 1 && "$cur" != -* ]]; then
        COMPREPLY=($(compgen -W "{modes}" -- "$cur"))
        return 0
    fi
    {clap_fn} "$@"
}}
if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F _{fn_name}_modes -o nosort -o bashdefault -o default {name}
else
    complete -F _{fn_name}_modes -o bashdefault -o default {name}
fi
"#,
        fn_name = name.replace('-', "_"),
        takes = takes.join(" "),
        modes = modes.join(" "),
    )
}
