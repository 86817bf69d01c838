//! `flowtuple-series`: corsaro3 flowtuple Avro files to report-style time
//! series on stdout.

mod allocator;
mod checks;
mod cli;
mod completion;
#[path = "../common/docs.rs"]
mod docs;
mod files;
mod formats;
mod help;
mod kafka;
#[path = "../common/messages.rs"]
mod messages;
mod output;
mod progress;
mod remote;
mod signals;
#[path = "../common/usage.rs"]
mod usage;

use std::fs::File;
use std::io::{self, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use cli::{Options, Source};
use files::Report;
use output::{HeaderFirst, Printer};

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
    if let Some(settings) = &opts.kafka {
        return kafka::run(&opts, settings);
    }
    let stdout = io::stdout();
    let buffered = io::BufWriter::with_capacity(1 << 18, stdout.lock());
    let mut out = HeaderFirst::new(opts.formatter.header(), buffered);
    let mut printer = Printer::new(&opts);
    let mut report = Report::new(&opts, "printed");
    let display = progress::Display::start(opts.progress, opts.sources.len(), input_bytes(&opts));
    let result = if opts.merge_repeated {
        files::merged(&opts, &mut printer, &mut out, &mut report)
    } else if opts.sources.len() == 1 {
        files::one_file(&opts, &mut printer, &mut out, &mut report)
    } else {
        files::many_files(&opts, &mut printer, &mut out, &mut report)
    };
    display.finish();
    result?;
    out.flush().context("writing output")?;
    Ok(match report.finish() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// The bytes of all inputs together, when every one is a file.
fn input_bytes(opts: &Options) -> Option<u64> {
    opts.sources
        .iter()
        .map(|s| match s {
            Source::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Stdin | Source::Remote(_) => None,
        })
        .sum()
}

/// Opens an input for reading (counting its bytes for `--progress`).
fn open(source: &Source) -> anyhow::Result<Box<dyn Read + Send>> {
    Ok(match source {
        Source::Stdin => Box::new(progress::Counted(io::stdin())),
        Source::Path(p) => Box::new(progress::Counted(
            File::open(p).with_context(|| format!("{source}: cannot open"))?,
        )),
        Source::Remote(l) => Box::new(progress::Counted(remote::open(l)?)),
    })
}
