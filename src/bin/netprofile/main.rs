//! `netprofile`: hourly traffic profiles from NEMEA aggregates.
//!
//! A thin binary: `main` parses the command line, reads the clock, builds
//! the library's options, hands the run to [`run::process`] and maps its
//! end to an exit status; the work is in `telescope_core::netprofile`.

mod check;
mod check_args;
mod cli;
mod clock;
#[path = "../common/docs.rs"]
mod docs;
mod lock;
#[path = "../common/messages.rs"]
mod messages;
mod report;
mod run;
mod summary;
mod tags;
#[path = "../common/usage.rs"]
mod usage;
mod wording;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use telescope_core::netprofile::TimeWindow;

use cli::Cli;
use run::Exit;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(io::stderr(), "netprofile: error: {}", messages::chain(&e));
            ExitCode::from(Exit::Operator.code())
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::try_parse().unwrap_or_else(|e| usage::exit_without_misleading_tips(e));
    if docs::print_if_asked(Cli::command(), cli.completions, cli.man)
        .context("writing to stdout")?
    {
        return Ok(ExitCode::SUCCESS);
    }
    cli.check_combinations();
    let start = Instant::now();
    let clock = clock::now()?;
    let mut opts = cli.profile_options();
    opts.window = TimeWindow::until(clock.utc);
    let mut doc = summary::Summary::new(&cli, &opts, &clock);
    let exit = match run::process(&cli, &opts, &clock, &mut doc, start) {
        Ok(exit) => exit,
        Err(e) => {
            // The whole run failed (unreadable DATA_ROOT): still tell monitoring.
            doc.exit_code = Exit::Operator.code();
            doc.error = Some(messages::chain(&e));
            doc.write_if_asked(&cli)?;
            return Err(e);
        }
    };
    doc.exit_code = exit.code();
    doc.write_if_asked(&cli)?;
    Ok(ExitCode::from(exit.code()))
}
