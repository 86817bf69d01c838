//! `flowtuple-series`: corsaro3 flowtuple Avro files to report-style time
//! series on stdout.

mod allocator;
mod checks;
mod cli;
mod completion;
#[path = "../common/docs.rs"]
mod docs;
mod files;
mod flags;
mod formats;
mod help;
mod input;
mod kafka;
#[path = "../common/messages.rs"]
mod messages;
mod options;
mod output;
mod progress;
mod remote;
mod signals;
#[path = "../common/usage.rs"]
mod usage;

use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    allocator::tune();
    match run() {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            progress::say(&format!("flowtuple-series: {}", messages::chain(&e)));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run() -> anyhow::Result<ExitCode> {
    let opts = cli::parse();
    signals::install();
    match &opts.kafka {
        Some(settings) => kafka::run(&opts, settings),
        None => files::print(&opts),
    }
}
