//! An operator's check of what went out to Kafka: prints every TSK message
//! of a topic as the lines libtimeseries' ASCII backend would print for
//! them (see [`telescope_tools::tsk_consume`]).
//!
//! ```text
//! cargo run --release -p telescope-tools --bin tsk_consume -- \
//!     --brokers 127.0.0.1:9092 --topic tsk-production.CHANNEL --channel CHANNEL
//! ```

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use telescope_tools::tsk_consume::{ascii, fetch_all};

/// Prints what a TSK topic holds as libtimeseries ASCII lines.
#[derive(Debug, Parser)]
struct Args {
    /// Bootstrap brokers.
    #[arg(long, value_name = "HOST:PORT,...")]
    brokers: String,
    /// The topic, e.g. tsk-production.CHANNEL.
    #[arg(long)]
    topic: String,
    /// Fail on a message of another channel.
    #[arg(long)]
    channel: Option<String>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tsk_consume: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let messages = fetch_all(&args.brokers, &args.topic)?;
    let text = ascii(&messages, args.channel.as_deref())?;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&text).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
