//! Zstandard frames, one after another, with every frame's window bounded
//! before anything is allocated for it and its content checksum (when the
//! frame has one) checked as the frame ends, before its last bytes are
//! handed on. ruzstd decodes; it computes the
//! checksum but does not compare it, so this reader does.

use std::io::{self, Cursor, Read};

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

const FRAME_MAGIC: u32 = 0xFD2F_B528;
/// Skippable frames use magics 0x184D2A50 to 0x184D2A5F.
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;

/// What a stream of frames may claim.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest window a frame may declare (the decoder keeps that much of
    /// the output in memory).
    pub max_window: u64,
    /// Largest content size a frame may declare in its header.
    pub max_content: u64,
}

/// Counts the bytes read from the compressed source.
struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// A reader over every Zstandard frame of a stream, skippable frames
/// included (ruzstd's streaming decoder stops after one frame). Errors are
/// `InvalidData` naming the frame and its compressed offset, without a
/// `zstd:` prefix (the caller adds what the stream is).
pub(crate) struct Frames<R: Read> {
    source: Counting<R>,
    decoder: FrameDecoder,
    limits: Limits,
    in_frame: bool,
    /// Frames (skippable ones too) started so far: the current one's
    /// number, counting from 1.
    frames: u64,
    /// Compressed offset of the current frame.
    frame_start: u64,
}

impl<R: Read> Frames<R> {
    /// Decodes the frames of `source` within `limits`.
    pub(crate) fn new(source: R, limits: Limits) -> Self {
        Frames {
            source: Counting {
                inner: source,
                read: 0,
            },
            decoder: FrameDecoder::new(),
            limits,
            in_frame: false,
            frames: 0,
            frame_start: 0,
        }
    }

    fn fault(&self, what: impl std::fmt::Display) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "frame {} at compressed byte {}: {what}",
                self.frames, self.frame_start
            ),
        )
    }

    /// Reads exactly `buf.len()` bytes of a frame header; `Ok(false)` if
    /// the stream ended before the first of them.
    fn header_bytes(&mut self, buf: &mut [u8], what: &str) -> io::Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            match self.source.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(self.fault(format!("the stream ends inside the {what}"))),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Starts the next data frame; `Ok(false)` at the clean end of the stream.
    fn start_frame(&mut self) -> io::Result<bool> {
        loop {
            self.frame_start = self.source.read;
            self.frames += 1;
            let mut magic = [0u8; 4];
            if !self.header_bytes(&mut magic, "frame magic")? {
                return Ok(false);
            }
            let magic = u32::from_le_bytes(magic);
            if magic & SKIPPABLE_MASK == SKIPPABLE_MAGIC {
                let mut len = [0u8; 4];
                if !self.header_bytes(&mut len, "skippable frame length")? {
                    return Err(self.fault("the stream ends inside a skippable frame"));
                }
                let len = u64::from(u32::from_le_bytes(len));
                let skipped = io::copy(&mut (&mut self.source).take(len), &mut io::sink())?;
                if skipped < len {
                    return Err(self.fault("the stream ends inside a skippable frame"));
                }
                continue;
            }
            if magic != FRAME_MAGIC {
                return Err(self.fault(format!("bad magic number {magic:#010x}")));
            }
            let header = self.frame_header()?;
            self.decoder
                .init(Cursor::new(header).chain(&mut self.source))
                .map_err(|e| self.fault(plain(&e)))?;
            return Ok(true);
        }
    }

    /// Reads the frame header after the magic, checks what it declares, and
    /// returns it with the magic in front for the decoder.
    fn frame_header(&mut self) -> io::Result<Vec<u8>> {
        let mut fhd = [0u8; 1];
        if !self.header_bytes(&mut fhd, "frame header")? {
            return Err(self.fault("the stream ends inside the frame header"));
        }
        let fhd = fhd[0];
        let single_segment = fhd & 0x20 != 0;
        let window_bytes = usize::from(!single_segment);
        let dict_bytes = [0, 1, 2, 4][usize::from(fhd & 3)];
        let size_bytes = match fhd >> 6 {
            0 => usize::from(single_segment),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let mut rest = vec![0u8; window_bytes + dict_bytes + size_bytes];
        if !rest.is_empty() && !self.header_bytes(&mut rest, "frame header")? {
            return Err(self.fault("the stream ends inside the frame header"));
        }
        let content = (size_bytes > 0).then(|| {
            let field = &rest[rest.len() - size_bytes..];
            let mut le = [0u8; 8];
            le[..size_bytes].copy_from_slice(field);
            u64::from_le_bytes(le) + if size_bytes == 2 { 256 } else { 0 }
        });
        let window = if single_segment {
            content.unwrap_or(0)
        } else {
            let exponent = u64::from(rest[0] >> 3);
            let base = 1u64 << (10 + exponent);
            base + base / 8 * u64::from(rest[0] & 7)
        };
        if window > self.limits.max_window {
            return Err(self.fault(format!(
                "the frame declares a window of {window} bytes, more than the {} this reader accepts",
                self.limits.max_window
            )));
        }
        if let Some(content) = content.filter(|&c| c > self.limits.max_content) {
            return Err(self.fault(format!(
                "the frame declares {content} bytes of content, more than the {} this reader accepts",
                self.limits.max_content
            )));
        }
        let mut header = Vec::with_capacity(5 + rest.len());
        header.extend_from_slice(&FRAME_MAGIC.to_le_bytes());
        header.push(fhd);
        header.extend_from_slice(&rest);
        Ok(header)
    }

    /// Compares the frame's stored checksum, if it has one, with the
    /// checksum of everything the frame produced.
    fn check_frame(&self) -> io::Result<()> {
        let stored = self.decoder.get_checksum_from_data();
        let computed = self.decoder.get_calculated_checksum();
        match (stored, computed) {
            (Some(stored), Some(computed)) if stored != computed => Err(self.fault(format!(
                "checksum mismatch (stored {stored:#010x}, content hashes to {computed:#010x})"
            ))),
            _ => Ok(()),
        }
    }
}

impl<R: Read> Read for Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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
                if let Err(e) = self
                    .decoder
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(wanted))
                {
                    return Err(self.fault(plain(&e)));
                }
            }
            let n = self.decoder.read(buf)?;
            // Checked as soon as the frame's last bytes are taken, before
            // they are handed on.
            if self.decoder.is_finished() && self.decoder.can_collect() == 0 {
                self.in_frame = false;
                self.check_frame()?;
            }
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

/// A decoder error said plainly: a stream cut short says so, and the Rust
/// debug form some of ruzstd's messages carry (`Name(Error { kind: .. })`)
/// is left out.
fn plain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::UnexpectedEof)
        {
            return "the stream ends inside a block (cut short)".into();
        }
        cause = c.source();
    }
    without_debug(&e.to_string())
}

/// `text` up to the first Rust debug form in it (an upper-case name
/// followed by `(` or ` {`, at its start or after `: `).
fn without_debug(text: &str) -> String {
    let starts = std::iter::once(0).chain(text.match_indices(": ").map(|(i, _)| i + 2));
    for at in starts {
        let rest = &text[at..];
        let name = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let debug = rest.starts_with(|c: char| c.is_ascii_uppercase())
            && (rest[name..].starts_with('(') || rest[name..].starts_with(" {"));
        if debug {
            let kept = text[..at].trim_end_matches([':', ' ']);
            return match kept.is_empty() {
                true => "malformed compressed data".into(),
                false => format!("{kept}: malformed compressed data"),
            };
        }
    }
    text.to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A single-segment frame of raw blocks holding `content`, with a
    /// content checksum xor `flip` when `checksum`.
    pub(crate) fn raw_frame(content: &[u8], checksum: bool, flip: u32) -> Vec<u8> {
        let mut f = FRAME_MAGIC.to_le_bytes().to_vec();
        // 8-byte content size, single segment, checksum flag.
        f.push(0xC0 | 0x20 | if checksum { 0x04 } else { 0 });
        f.extend_from_slice(&(content.len() as u64).to_le_bytes());
        let chunks: Vec<&[u8]> = if content.is_empty() {
            vec![&[][..]]
        } else {
            content.chunks(100_000).collect()
        };
        for (i, chunk) in chunks.iter().enumerate() {
            let last = u32::from(i + 1 == chunks.len());
            let header = (chunk.len() as u32) << 3 | last;
            f.extend_from_slice(&header.to_le_bytes()[..3]);
            f.extend_from_slice(chunk);
        }
        if checksum {
            let sum = twox_hash::XxHash64::oneshot(0, content) as u32 ^ flip;
            f.extend_from_slice(&sum.to_le_bytes());
        }
        f
    }

    const LIMITS: Limits = Limits {
        max_window: 1 << 20,
        max_content: 1 << 20,
    };

    /// Reads `stream` as [`Frames`] until its end or first error, with a
    /// small buffer: the bytes handed on, and the error.
    fn read_all(stream: &[u8], limits: Limits) -> (Vec<u8>, Option<String>) {
        let mut frames = Frames::new(stream, limits);
        let mut out = Vec::new();
        let mut buf = [0u8; 7000];
        loop {
            match frames.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    fn content(n: usize, salt: u8) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8 ^ salt).collect()
    }

    #[test]
    fn a_frame_cut_short_says_so_plainly() {
        let stream = raw_frame(&content(150_000, 1), true, 0);
        // Inside the first block's header, and inside its data.
        for cut in [14, 15, 1000, 90_000] {
            let (_, err) = read_all(&stream[..cut], LIMITS);
            let err = err.unwrap();
            assert_eq!(
                err, "frame 1 at compressed byte 0: the stream ends inside a block (cut short)",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn debug_forms_are_left_out_of_messages() {
        let cases = [
            (
                "Failed to parse block header: BlockContentReadError(Error { kind: Other })",
                "Failed to parse block header: malformed compressed data",
            ),
            (
                "LiteralsSectionParseError(Bad)",
                "malformed compressed data",
            ),
            ("Bad offset: 5 (Ok)", "Bad offset: 5 (Ok)"),
        ];
        for (text, want) in cases {
            assert_eq!(without_debug(text), want);
        }
    }

    #[test]
    fn frames_with_checksums_and_skippable_frames_read_back() {
        let (a, b) = (content(150_000, 1), content(3, 2));
        let mut stream = raw_frame(&a, true, 0);
        stream.extend_from_slice(&0x184D_2A53u32.to_le_bytes());
        stream.extend_from_slice(&5u32.to_le_bytes());
        stream.extend_from_slice(b"12345");
        stream.extend_from_slice(&raw_frame(&b, false, 0));
        stream.extend_from_slice(&raw_frame(&[], true, 0));
        let (out, err) = read_all(&stream, LIMITS);
        assert_eq!(err, None);
        assert_eq!(out, [a, b].concat());
    }

    #[test]
    fn a_checksum_mismatch_names_the_frame_and_stops_before_its_last_bytes() {
        let (a, b) = (content(150_000, 1), content(20_000, 2));
        let first = raw_frame(&a, true, 0);
        for flip in [1u32, 0x8000_0000] {
            let mut stream = first.clone();
            stream.extend_from_slice(&raw_frame(&b, true, flip));
            let (out, err) = read_all(&stream, LIMITS);
            let err = err.expect("a bad checksum is an error");
            assert!(
                err.starts_with(&format!(
                    "frame 2 at compressed byte {}: checksum mismatch",
                    first.len()
                )),
                "{err}"
            );
            // The good frame came through; the bad frame's last bytes did not.
            assert!(out.len() >= a.len() && out.len() < a.len() + b.len());
            assert_eq!(out[..a.len()], a[..]);
        }
        // A flipped content byte is caught by the same check.
        let mut stream = raw_frame(&a, true, 0);
        let at = stream.len() / 2;
        stream[at] ^= 0x10;
        let (_, err) = read_all(&stream, LIMITS);
        assert!(err
            .unwrap()
            .contains("frame 1 at compressed byte 0: checksum mismatch"));
    }

    #[test]
    fn windows_and_content_sizes_past_the_limits_are_refused_from_the_header() {
        // Window descriptor 0x58: 2^(10+11) = 2 MiB, over the 1 MiB limit.
        let mut stream = FRAME_MAGIC.to_le_bytes().to_vec();
        stream.extend_from_slice(&[0x00, 0x58]);
        let (_, err) = read_all(&stream, LIMITS);
        assert_eq!(
            err.unwrap(),
            "frame 1 at compressed byte 0: the frame declares a window of 2097152 bytes, more than the 1048576 this reader accepts"
        );
        // A window within the limit, and 4 GiB of declared content.
        let mut stream = FRAME_MAGIC.to_le_bytes().to_vec();
        stream.extend_from_slice(&[0x80, 0x40]);
        stream.extend_from_slice(&u32::MAX.to_le_bytes());
        let (_, err) = read_all(&stream, LIMITS);
        assert!(err
            .unwrap()
            .contains("declares 4294967295 bytes of content, more than the 1048576"),);
    }

    #[test]
    fn cut_streams_are_errors() {
        let stream = raw_frame(&content(1000, 3), true, 0);
        for cut in [1, 4, 5, 9, 14, 20, stream.len() - 2] {
            let (_, err) = read_all(&stream[..cut], LIMITS);
            let err = err.unwrap_or_else(|| panic!("cut at {cut} read cleanly"));
            assert!(
                err.starts_with("frame 1 at compressed byte 0: "),
                "{cut}: {err}"
            );
        }
    }
}
