//! Opening an input stream: gzip, bzip2 and zstd wrappers are detected by
//! their magic bytes (as wandio does) and removed transparently.

use std::io::{self, Chain, Cursor, Read};

/// The compression wrapper found around the Avro stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
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
    pub fn detect(magic: &[u8]) -> Wrapper {
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

/// Wraps `inner` in the decompressor its magic bytes call for.
pub fn unwrap_stream<R: Read + Send + 'static>(mut inner: R) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = Vec::with_capacity(4);
    (&mut inner).take(4).read_to_end(&mut magic)?;
    let wrapper = Wrapper::detect(&magic);
    let stream: Peeked<R> = Cursor::new(magic).chain(inner);
    Ok(match wrapper {
        Wrapper::None => Box::new(stream),
        Wrapper::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Wrapper::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(stream)),
        Wrapper::Zstd => Box::new(zstd_reader(stream)),
    })
}

/// A reader over every Zstandard frame of a stream, skippable frames
/// included (ruzstd's streaming decoder stops after one frame).
struct ZstdFrames<R: Read> {
    source: R,
    decoder: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
}

impl<R: Read> ZstdFrames<R> {
    fn new(source: R) -> Self {
        ZstdFrames {
            source,
            decoder: ruzstd::decoding::FrameDecoder::new(),
            in_frame: false,
        }
    }

    /// Starts the next data frame; `Ok(false)` at the clean end of the stream.
    fn start_frame(&mut self) -> io::Result<bool> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        loop {
            let mut first = [0u8; 1];
            if self.source.read(&mut first)? == 0 {
                return Ok(false);
            }
            match self.decoder.init((&first[..]).chain(&mut self.source)) {
                Ok(()) => return Ok(true),
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    io::copy(
                        &mut (&mut self.source).take(u64::from(length)),
                        &mut io::sink(),
                    )?;
                }
                Err(e) => return Err(zstd_error(e)),
            }
        }
    }
}

fn zstd_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::BlockDecodingStrategy;
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if !self.start_frame()? {
                    return Ok(0);
                }
                self.in_frame = true;
            }
            while self.decoder.can_collect() < buf.len() && !self.decoder.is_finished() {
                let wanted = buf.len() - self.decoder.can_collect();
                self.decoder
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(wanted))
                    .map_err(zstd_error)?;
            }
            let n = self.decoder.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.decoder.is_finished() {
                self.in_frame = false;
            }
        }
    }
}

/// A reader that decodes every Zstandard frame of `source`.
pub fn zstd_reader<R: Read>(source: R) -> impl Read {
    ZstdFrames::new(source)
}
