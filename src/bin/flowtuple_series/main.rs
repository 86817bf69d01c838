//! `flowtuple-series`: corsaro3 flowtuple Avro files to report-style time
//! series on stdout.

mod cli;
mod kafka;

use std::fs::File;
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;

use anyhow::Context;
use cli::{Options, Source};
use telescope_core::flowtuple::{self, FlowtupleError};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("flowtuple-series: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let io =
            c.downcast_ref::<io::Error>()
                .or_else(|| match c.downcast_ref::<FlowtupleError>() {
                    Some(FlowtupleError::Output(io)) => Some(io),
                    _ => None,
                });
        io.is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run() -> anyhow::Result<ExitCode> {
    let opts = cli::parse();
    if let Some(settings) = &opts.kafka {
        return kafka::run(&opts, settings);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 18, stdout.lock());
    out.write_all(opts.formatter.header())
        .context("writing output")?;
    let ok = if opts.sources.len() == 1 {
        one_file(&opts, &opts.sources[0], &mut out)?
    } else {
        many_files(&opts, &mut out)?
    };
    out.flush().context("writing output")?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn open(source: &Source) -> anyhow::Result<Box<dyn Read + Send>> {
    Ok(match source {
        Source::Stdin => Box::new(io::stdin()),
        Source::Path(p) => {
            Box::new(File::open(p).with_context(|| format!("{source}: cannot open"))?)
        }
    })
}

/// Processes one input, writing each interval to `out` as it completes.
/// Returns the error of a bad input (output errors are returned as `Err`).
fn process(
    opts: &Options,
    source: &Source,
    threads: usize,
    out: &mut dyn Write,
) -> anyhow::Result<Option<anyhow::Error>> {
    let input = match open(source) {
        Ok(i) => i,
        Err(e) => return Ok(Some(e)),
    };
    let mut buf = Vec::new();
    let result = flowtuple::series(input, &opts.series, threads, |interval| {
        buf.clear();
        opts.formatter.serialize(&interval, &mut buf);
        out.write_all(&buf).map_err(FlowtupleError::Output)
    });
    match result {
        Ok(_) => Ok(None),
        Err(e) if e.is_output() => Err(anyhow::Error::new(e).context("writing output")),
        Err(e) => Ok(Some(anyhow::Error::new(e).context(source.to_string()))),
    }
}

fn one_file(opts: &Options, source: &Source, out: &mut dyn Write) -> anyhow::Result<bool> {
    match process(opts, source, opts.threads, out)? {
        None => Ok(true),
        Some(e) => {
            out.flush().context("writing output")?;
            eprintln!("flowtuple-series: {e:#}");
            Ok(false)
        }
    }
}

/// Processes files on all threads, one file per thread, printing each
/// file's output whole and in the order given. At most `2 * workers` files
/// are taken and not yet printed, so memory stays bounded.
fn many_files(opts: &Options, out: &mut dyn Write) -> anyhow::Result<bool> {
    let n = opts.sources.len();
    let workers = opts.threads.min(n).max(1);
    let next = Mutex::new(0usize);
    let (token_tx, token_rx) = sync_channel::<()>(2 * workers);
    for _ in 0..2 * workers {
        let _ = token_tx.send(());
    }
    let token_rx = Mutex::new(token_rx);
    let mut ok = true;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (tx, rx) = sync_channel::<(usize, Vec<u8>, Option<anyhow::Error>)>(workers);
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, token_rx) = (&next, &token_rx);
            scope.spawn(move || loop {
                let got_token = token_rx.lock().map(|rx| rx.recv().is_ok()).unwrap_or(false);
                if !got_token {
                    return;
                }
                let i = match next.lock() {
                    Ok(mut next) => {
                        *next += 1;
                        *next - 1
                    }
                    Err(_) => return,
                };
                let Some(source) = opts.sources.get(i) else {
                    return;
                };
                let mut buf = Vec::new();
                let err = process(opts, source, 1, &mut buf).unwrap_or_else(Some);
                if tx.send((i, buf, err)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut printed = 0;
        while printed < n {
            let Ok((i, buf, err)) = rx.recv() else { break };
            pending.insert(i, (buf, err));
            while let Some((buf, err)) = pending.remove(&printed) {
                out.write_all(&buf).context("writing output")?;
                if let Some(e) = err {
                    out.flush().context("writing output")?;
                    eprintln!("flowtuple-series: {e:#}");
                    ok = false;
                }
                printed += 1;
                let _ = token_tx.send(());
            }
        }
        // Release workers still waiting for a token.
        drop(token_tx);
        Ok(())
    })?;
    Ok(ok)
}
