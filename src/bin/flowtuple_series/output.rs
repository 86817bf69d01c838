//! Where intervals go: the format's header once, the report rules' dense
//! keys, and the run's ledger of printed timestamps (a run prints one block
//! per timestamp: an input that repeats one printed before is an error).

use std::collections::hash_map::{Entry, HashMap};
use std::io::{self, Write};

use telescope_core::flowtuple::{IntervalSeries, Renderer};

use crate::options::{Options, Source};
use crate::signals;

/// Output that starts with the format's header (csv) once: before the
/// first byte of output, or when a file succeeded without any (so a run
/// where every file fails prints no header).
pub struct HeaderFirst<'h, W> {
    header: &'h [u8],
    inner: W,
}

impl<'h, W: Write> HeaderFirst<'h, W> {
    /// `inner`, with `header` due before its first byte.
    pub fn new(header: &'h [u8], inner: W) -> Self {
        HeaderFirst { header, inner }
    }

    /// A file succeeded: the header is due even if it printed nothing.
    pub fn succeeded(&mut self) -> io::Result<()> {
        self.write_all(&[])
    }
}

impl<W: Write> Write for HeaderFirst<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        signals::whole(|| {
            if !self.header.is_empty() {
                self.inner.write_all(self.header)?;
                self.header = &[];
            }
            self.inner.write_all(buf)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        signals::whole(|| self.inner.flush())
    }
}

/// The timestamps output so far in this run (printed, or with Kafka
/// published), each with the input (its index) whose interval it was.
///
/// A timestamp is taken when an input's interval for it is handed to the
/// output, whether or not the format writes a line for it (an interval
/// whose records were all filtered out takes its timestamp too): the rule
/// is the same in every format, and a minute is never counted from two
/// inputs separately.
#[derive(Debug, Default)]
pub struct Ledger {
    output: HashMap<i64, usize>,
}

impl Ledger {
    /// Takes `time` for input `input`; when an input took it before, notes
    /// the repeat in `repeats` and returns false (the interval must not be
    /// output).
    pub fn take(&mut self, time: i64, input: usize, repeats: &mut Repeats) -> bool {
        match self.output.entry(time) {
            Entry::Vacant(slot) => {
                slot.insert(input);
                true
            }
            Entry::Occupied(earlier) => {
                repeats.note(time, *earlier.get());
                false
            }
        }
    }
}

/// What a run does with an interval: prints it, or publishes it (Kafka).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// On stdout.
    Printed,
    /// To Kafka.
    Published,
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Delivery::Printed => "printed",
            Delivery::Published => "published",
        })
    }
}

/// The timestamps of one input that an earlier input had already output.
#[derive(Debug, Default)]
pub struct Repeats {
    first: Option<(i64, usize)>,
    count: u64,
}

impl Repeats {
    fn note(&mut self, time: i64, earlier: usize) {
        self.first.get_or_insert((time, earlier));
        self.count += 1;
    }

    /// The error of the input `source` if it repeated a timestamp:
    /// `done` is what happened to the output.
    pub fn error(
        &self,
        sources: &[Source],
        source: &Source,
        done: Delivery,
    ) -> Option<anyhow::Error> {
        let (time, earlier) = self.first?;
        let more = match self.count {
            1 => String::new(),
            n => format!(" (and {} more of its timestamps)", n - 1),
        };
        Some(anyhow::anyhow!(
            "{source}: timestamp {time}{more} was already {done} from input {} ({}); \
             its interval is not {done} again, the file's other intervals are (a run \
             gives one block per timestamp; --merge-repeated merges repeated \
             timestamps into one interval)",
            earlier + 1,
            sources[earlier]
        ))
    }
}

/// Prints complete intervals in order: the ledger's check, then the
/// library's rendering (the report rules' dense keys, which carry keys
/// from one printed interval to the next, and the format).
pub struct Printer {
    renderer: Renderer,
    ledger: Ledger,
    buf: Vec<u8>,
}

impl Printer {
    /// A printer of `opts`' format and rules.
    pub fn new(opts: &Options) -> Printer {
        Printer {
            renderer: Renderer::new(opts.formatter.clone(), &opts.series),
            ledger: Ledger::default(),
            buf: Vec::new(),
        }
    }

    /// True when intervals must reach the printer whole (dense keys depend
    /// on the intervals printed before), not formatted by a worker.
    pub fn needs_intervals(&self) -> bool {
        self.renderer.carries_keys()
    }

    /// Prints one interval of input `input`, unless its timestamp was
    /// printed before (then it is noted in `repeats`). True when printed.
    pub fn print(
        &mut self,
        input: usize,
        interval: IntervalSeries,
        repeats: &mut Repeats,
        out: &mut dyn Write,
    ) -> io::Result<bool> {
        if !self.ledger.take(interval.time, input, repeats) {
            return Ok(false);
        }
        self.buf.clear();
        self.renderer.render(interval, &mut self.buf);
        if !self.buf.is_empty() {
            // An empty write would still print the header.
            out.write_all(&self.buf)?;
        }
        Ok(true)
    }

    /// Prints the intervals a worker formatted for input `input`: `bytes`
    /// holds them one after the other, `pieces` each one's time and end.
    /// Those whose timestamp was printed before are left out (and noted in
    /// `repeats`). Returns how many were printed.
    pub fn print_formatted(
        &mut self,
        input: usize,
        bytes: &[u8],
        pieces: &[(i64, usize)],
        repeats: &mut Repeats,
        out: &mut dyn Write,
    ) -> io::Result<u64> {
        let (mut printed, mut from, mut start) = (0, 0, 0);
        for &(time, end) in pieces {
            if self.ledger.take(time, input, repeats) {
                printed += 1;
            } else {
                write_some(out, &bytes[from..start])?;
                from = end;
            }
            start = end;
        }
        write_some(out, &bytes[from..start])?;
        Ok(printed)
    }
}

/// Writes `bytes` unless empty (an empty write would print the header).
fn write_some(out: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    match bytes.is_empty() {
        true => Ok(()),
        false => out.write_all(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_refuses_a_timestamp_taken_before() {
        let mut ledger = Ledger::default();
        let (mut a, mut b) = (Repeats::default(), Repeats::default());
        assert!(ledger.take(100, 0, &mut a));
        assert!(ledger.take(160, 0, &mut a));
        assert!(!ledger.take(100, 1, &mut b));
        assert!(ledger.take(220, 1, &mut b));
        assert!(!ledger.take(160, 1, &mut b));
        assert_eq!((a.first, a.count), (None, 0));
        assert_eq!((b.first, b.count), (Some((100, 0)), 2));
        let sources = [Source::Path("a.avro".into()), Source::Path("b.avro".into())];
        let e = b
            .error(&sources, &sources[1], Delivery::Printed)
            .unwrap()
            .to_string();
        assert!(
            e.starts_with(
                "b.avro: timestamp 100 (and 1 more of its timestamps) was already printed \
                 from input 1 (a.avro)"
            ),
            "{e}"
        );
        assert!(e.contains("--merge-repeated"), "{e}");
    }
}
