//! Opening an input stream: gzip, bzip2 and zstd wrappers are detected by
//! their magic bytes (as wandio does) and removed transparently.

use std::io::{self, Chain, Cursor, Read};

use super::zstd::{Frames, Limits};

/// The compression wrapper found around the Avro stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrapper {
    /// No wrapper: the stream is the Avro file itself.
    None,
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// bzip2, possibly several streams.
    Bzip2,
    /// Zstandard, possibly several frames.
    Zstd,
}

impl Wrapper {
    /// Recognises a wrapper from the first bytes of a stream.
    pub(crate) fn detect(magic: &[u8]) -> Wrapper {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Wrapper::Gzip
        } else if magic.starts_with(b"BZh") {
            Wrapper::Bzip2
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Wrapper::Zstd
        } else {
            Wrapper::None
        }
    }
}

type Peeked<R> = Chain<Cursor<Vec<u8>>, R>;

/// Largest window a zstd wrapper frame may declare: the decoder keeps a
/// window of output in memory. 32 MiB covers every level up to `--ultra
/// -20` (`zstd -19` uses at most 8 MiB); ruzstd itself refuses more than
/// 100 MiB, so `-21`, `-22` and `--long` files are refused either way.
pub(crate) const MAX_WRAPPER_WINDOW: u64 = 32 << 20;

/// Wraps `inner` in the decompressor its magic bytes call for. A fault the
/// decompressor finds (corrupt data, a checksum or length that does not
/// match) comes back as an `InvalidData` error holding a [`WrapperFault`].
pub(crate) fn unwrap_stream<R: Read + Send + 'static>(
    mut inner: R,
) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = Vec::with_capacity(4);
    (&mut inner).take(4).read_to_end(&mut magic)?;
    let wrapper = Wrapper::detect(&magic);
    let stream: Peeked<R> = Cursor::new(magic).chain(inner);
    Ok(match wrapper {
        Wrapper::None => Box::new(stream),
        Wrapper::Gzip => Box::new(Faults {
            inner: flate2::read::MultiGzDecoder::new(stream),
            name: "gzip",
        }),
        Wrapper::Bzip2 => Box::new(Faults {
            inner: bzip2::read::MultiBzDecoder::new(stream),
            name: "bzip2",
        }),
        Wrapper::Zstd => Box::new(Faults {
            inner: Frames::new(
                stream,
                Limits {
                    max_window: MAX_WRAPPER_WINDOW,
                    max_content: u64::MAX,
                },
            ),
            name: "zstd",
        }),
    })
}

/// A fault found by a wrapper's decompressor: the data, a checksum or a
/// length is wrong. Its text starts with the wrapper's name.
#[derive(Debug)]
pub(crate) struct WrapperFault(pub String);

impl std::fmt::Display for WrapperFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WrapperFault {}

/// Turns the data errors of a decompressor into [`WrapperFault`]s; other
/// errors (from reading the file itself) pass through.
struct Faults<R> {
    inner: R,
    name: &'static str,
}

impl<R: Read> Read for Faults<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData
            | io::ErrorKind::InvalidInput
            | io::ErrorKind::UnexpectedEof => {
                let cause = explain(self.name, &e.to_string());
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    WrapperFault(format!("{}: {cause}", self.name)),
                )
            }
            _ => e,
        })
    }
}

/// The decompressors' own words, said plainly where they are vague, without
/// their own `<name>: ` prefix (the caller adds it).
pub(crate) fn explain(wrapper: &str, message: &str) -> String {
    match (wrapper, message) {
        (_, m) if m.contains("does not have a matching checksum") => {
            "checksum mismatch (a member's CRC32 or length (ISIZE) does not match its data)".into()
        }
        ("bzip2", m) if m.contains("invalid data") => {
            "invalid data (corrupt, or a block or stream CRC does not match)".into()
        }
        ("bzip2", m) if m.contains("EOF reached") => "the stream ends early".into(),
        _ => message
            .strip_prefix(wrapper)
            .and_then(|m| m.strip_prefix(": "))
            .unwrap_or(message)
            .to_string(),
    }
}
