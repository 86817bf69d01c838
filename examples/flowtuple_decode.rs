//! The decode-only baseline of the flowtuple benchmark: reads, decompresses
//! and decodes every record with the field plan of a mode and prints counts.
//! It goes through the same reading path as `flowtuple-series` (wrappers,
//! checksums, size bounds, the parallel pipeline), stopping before
//! filtering and aggregation.
//!
//! ```sh
//! cargo run --release --example flowtuple_decode -- FILE [MODE] [THREADS]
//! ```

use std::fs::File;
use std::time::Instant;

use telescope_core::flowtuple::{decode_only, Mode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: flowtuple_decode FILE [MODE] [THREADS]")?;
    let mode: Mode = args.next().as_deref().unwrap_or("unfiltered").parse()?;
    let threads = match args.next() {
        Some(t) => t.parse()?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let start = Instant::now();
    let stats = decode_only(File::open(&path)?, mode, threads)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} records in {} blocks, {secs:.3} s, {:.2} M records/s",
        stats.records,
        stats.blocks,
        stats.records as f64 / secs / 1e6
    );
    Ok(())
}
