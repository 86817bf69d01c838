//! Decompressing one Avro block, bounded and checked: no block makes the
//! process allocate more than [`MAX_BLOCK_BYTES`] for its contents, whatever
//! its headers claim, and every checksum the codec has is compared.
//!
//! | codec | what is checked |
//! |---|---|
//! | null | size |
//! | deflate | size (raw deflate has no checksum) |
//! | snappy | the length header before allocating, the big-endian CRC32 of the block |
//! | zstandard | declared window and content size before allocating, size, the frame's content checksum (when the writer stored one) |
//! | bzip2 | size, block and stream CRCs |

use std::cell::RefCell;
use std::io::Read;

use super::input::explain;
use super::zstd::{Frames, Limits};

/// Largest uncompressed block accepted: 4 MiB. corsaro writes blocks of at
/// most 16 KiB and the common Avro writers (Java, Python, fastavro, Spark)
/// 16–64 KB; a few MiB is the most seen elsewhere. A block's decoded
/// records take up to ~7 times its bytes (136 bytes for a record of ~19), so
/// a 4 MiB block may hold ~33 MB in flight: with the pipeline's in-flight
/// budget this keeps the fixed overhead under ~100 MB at `-j2`.
pub(crate) const MAX_BLOCK_BYTES: usize = 4 << 20;

/// Largest stored (compressed) block accepted: the bound plus room for the
/// few bytes a codec adds to data it cannot compress.
pub(crate) const MAX_STORED_BYTES: usize = MAX_BLOCK_BYTES + (MAX_BLOCK_BYTES >> 3);

/// A block's compression codec, from the header's `avro.codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Uncompressed.
    Null,
    /// Raw deflate (RFC 1951).
    Deflate,
    /// Snappy, followed by the big-endian CRC32 of the uncompressed data.
    Snappy,
    /// Zstandard.
    Zstandard,
    /// bzip2.
    Bzip2,
}

impl Codec {
    /// The codec of an `avro.codec` value; `None` when unknown.
    pub(crate) fn from_name(name: &[u8]) -> Option<Codec> {
        Some(match name {
            b"null" | b"" => Codec::Null,
            b"deflate" => Codec::Deflate,
            b"snappy" => Codec::Snappy,
            b"zstandard" => Codec::Zstandard,
            b"bzip2" => Codec::Bzip2,
            _ => return None,
        })
    }
}

/// What a block passing the bound is told.
fn limit() -> String {
    format!("{MAX_BLOCK_BYTES} bytes (4 MiB), the most this reader accepts for a block")
}

/// Reads `r` to its end into `out`, failing once it would pass
/// [`MAX_BLOCK_BYTES`]; `out` never grows past the bound.
fn read_bounded(mut r: impl Read, out: &mut Vec<u8>, codec: &str) -> Result<(), String> {
    let cause = |e: std::io::Error| format!("{codec}: {}", explain(codec, &e.to_string()));
    // Room for the largest block, once per (reused) buffer: reading never
    // grows it past the bound, and only the pages written are touched.
    out.reserve_exact(MAX_BLOCK_BYTES);
    (&mut r)
        .take(MAX_BLOCK_BYTES as u64)
        .read_to_end(out)
        .map_err(cause)?;
    let mut probe = [0u8; 1];
    if out.len() == MAX_BLOCK_BYTES && r.read(&mut probe).map_err(cause)? > 0 {
        return Err(format!(
            "{codec}: the block inflates to more than {}",
            limit()
        ));
    }
    Ok(())
}

thread_local! {
    /// libdeflate's decompressor of this thread (its tables, ~10 KB).
    static INFLATE: RefCell<Option<libdeflater::Decompressor>> = const { RefCell::new(None) };
}

/// The least output room a deflate block is first given.
const INFLATE_START: usize = 256 << 10;

/// Inflates raw deflate `data` at once (libdeflate: about 1.5 times the
/// speed of a streaming inflate) into `buf`, and returns the bytes. The
/// output room is `buf` as it is (at least [`INFLATE_START`], or 8 times
/// the data), grown to the bound and tried again only if the block does
/// not fit: a reused buffer is zeroed once, only as far as blocks need.
/// A block that does not fit [`MAX_BLOCK_BYTES`] is refused there.
fn inflate<'a>(data: &[u8], buf: &'a mut Vec<u8>) -> Result<&'a [u8], String> {
    let want = INFLATE_START.max(data.len().saturating_mul(8));
    if buf.len() < want.min(MAX_BLOCK_BYTES) {
        buf.resize(want.min(MAX_BLOCK_BYTES), 0);
    }
    INFLATE
        .with(|cell| {
            let mut cell = cell.borrow_mut();
            let inflater = cell.get_or_insert_with(libdeflater::Decompressor::new);
            loop {
                match inflater.deflate_decompress(data, buf) {
                    Ok(n) => return Ok(n),
                    Err(libdeflater::DecompressionError::InsufficientSpace)
                        if buf.len() < MAX_BLOCK_BYTES =>
                    {
                        buf.resize(MAX_BLOCK_BYTES, 0);
                    }
                    Err(libdeflater::DecompressionError::InsufficientSpace) => {
                        return Err(format!(
                            "deflate: the block inflates to more than {}",
                            limit()
                        ))
                    }
                    Err(libdeflater::DecompressionError::BadData) => {
                        return Err("deflate: corrupt deflate stream".into())
                    }
                }
            }
        })
        .map(|n| &buf[..n])
}

/// Decompresses one block's `data`, into `buf` (cleared first) unless the
/// codec is null, and returns the uncompressed bytes.
pub(crate) fn decompress<'a>(
    codec: Codec,
    data: &'a [u8],
    buf: &'a mut Vec<u8>,
) -> Result<&'a [u8], String> {
    // Before `clear`: the output room of the last block is reused as it is.
    if codec == Codec::Deflate {
        return inflate(data, buf);
    }
    buf.clear();
    match codec {
        Codec::Null => {
            if data.len() > MAX_BLOCK_BYTES {
                return Err(format!(
                    "null: the block holds {} bytes, more than {}",
                    data.len(),
                    limit()
                ));
            }
            return Ok(data);
        }
        Codec::Deflate => return inflate(data, buf),
        Codec::Snappy => {
            if data.len() < 4 {
                return Err("snappy: block shorter than its CRC".into());
            }
            let (body, crc) = data.split_at(data.len() - 4);
            let snappy = |e: snap::Error| format!("snappy: {}", explain("snappy", &e.to_string()));
            let len = snap::raw::decompress_len(body).map_err(snappy)?;
            if len > MAX_BLOCK_BYTES {
                return Err(format!(
                    "snappy: the block's length header claims {len} bytes, more than {}",
                    limit()
                ));
            }
            buf.resize(len, 0);
            snap::raw::Decoder::new()
                .decompress(body, buf)
                .map_err(snappy)?;
            let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
            let got = crc32fast::hash(buf);
            if got != want {
                return Err(format!(
                    "snappy: checksum mismatch (stored CRC32 {want:#010x}, data hashes to {got:#010x})"
                ));
            }
        }
        Codec::Zstandard => {
            // Streaming writers declare the window of their level whatever
            // the block's size (8 MiB at zstd -19); ruzstd reserves it.
            let limits = Limits {
                max_window: 2 * MAX_BLOCK_BYTES as u64,
                max_content: MAX_BLOCK_BYTES as u64,
            };
            read_bounded(Frames::new(data, limits), buf, "zstandard")?;
        }
        Codec::Bzip2 => read_bounded(bzip2::read::BzDecoder::new(data), buf, "bzip2")?,
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Bytes that compress: random runs of random bytes (not periodic:
    /// bzip2's sort is slow on repeats; runs keep it quick in debug builds).
    fn data(n: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut out = Vec::with_capacity(n + 300);
        while out.len() < n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend(std::iter::repeat_n(x as u8, 1 + (x >> 56) as usize));
        }
        out.truncate(n);
        out
    }

    fn compress(codec: Codec, raw: &[u8]) -> Vec<u8> {
        match codec {
            Codec::Null => raw.to_vec(),
            Codec::Deflate => {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(raw).unwrap();
                e.finish().unwrap()
            }
            Codec::Snappy => {
                let mut out = snap::raw::Encoder::new().compress_vec(raw).unwrap();
                out.extend_from_slice(&crc32fast::hash(raw).to_be_bytes());
                out
            }
            Codec::Zstandard => super::super::zstd::tests::raw_frame(raw, true, 0),
            Codec::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(raw).unwrap();
                e.finish().unwrap()
            }
        }
    }

    const ALL: [Codec; 5] = [
        Codec::Null,
        Codec::Deflate,
        Codec::Snappy,
        Codec::Zstandard,
        Codec::Bzip2,
    ];

    #[test]
    fn blocks_up_to_the_bound_decompress_and_larger_ones_are_refused() {
        for codec in ALL {
            let raw = data(MAX_BLOCK_BYTES);
            let mut buf = Vec::new();
            let block = compress(codec, &raw);
            let got = decompress(codec, &block, &mut buf);
            assert!(got == Ok(&raw[..]), "{codec:?}: {:?}", got.err());
            assert!(buf.capacity() <= MAX_BLOCK_BYTES, "{codec:?}");

            let raw = data(MAX_BLOCK_BYTES + 1);
            let err = decompress(codec, &compress(codec, &raw), &mut buf).unwrap_err();
            // zstandard refuses the frame's declared size, the others the
            // bytes past the bound.
            let want = match codec {
                Codec::Zstandard => "declares 4194305 bytes of content, more than the 4194304",
                _ => "more than 4194304 bytes (4 MiB), the most this reader accepts for a block",
            };
            assert!(err.contains(want), "{codec:?}: {err}");
            assert!(buf.capacity() <= MAX_BLOCK_BYTES + 1, "{codec:?}");
        }
    }

    /// One-shot inflating: a reused buffer gives each block exactly its
    /// bytes, whether it fits the room left by the last block or needs it
    /// grown to the bound (zeros inflate over 1,000 times); a truncated
    /// or damaged block is an error, not a short block.
    #[test]
    fn deflate_blocks_in_a_reused_buffer_are_exact_and_damage_is_an_error() {
        let mut buf = Vec::new();
        let zeros = vec![0u8; MAX_BLOCK_BYTES];
        for raw in [data(1_000), zeros.clone(), data(10), data(300_000), zeros] {
            let block = compress(Codec::Deflate, &raw);
            let got = decompress(Codec::Deflate, &block, &mut buf);
            assert!(got == Ok(&raw[..]), "{} bytes: {:?}", raw.len(), got.err());
        }
        let block = compress(Codec::Deflate, &data(100_000));
        let err = decompress(Codec::Deflate, &block[..block.len() / 2], &mut buf).unwrap_err();
        assert_eq!(err, "deflate: corrupt deflate stream");
        let mut damaged = block.clone();
        damaged[0] |= 0b110; // block type 3: reserved
        let err = decompress(Codec::Deflate, &damaged, &mut buf).unwrap_err();
        assert_eq!(err, "deflate: corrupt deflate stream");
    }

    #[test]
    fn a_snappy_length_header_past_the_bound_is_refused_before_allocating() {
        // Length varint 2^32-1, four literal bytes, a CRC.
        let block = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x0c, 1, 2, 3, 4, 0, 0, 0, 0];
        let mut buf = Vec::new();
        let err = decompress(Codec::Snappy, &block, &mut buf).unwrap_err();
        assert!(
            err.starts_with("snappy: the block's length header claims 4294967295 bytes"),
            "{err}"
        );
        assert_eq!(buf.capacity(), 0);
    }

    #[test]
    fn codec_errors_name_the_codec_once() {
        let mut buf = Vec::new();
        // A snappy copy reaching before the start of the output.
        let block = [0x05, 0x02, 0x10, 0x00, 0, 0, 0, 0];
        let err = decompress(Codec::Snappy, &block, &mut buf).unwrap_err();
        assert!(err.starts_with("snappy: corrupt input"), "{err}");
        assert_eq!(err.matches("snappy").count(), 1, "{err}");
        let err = decompress(Codec::Bzip2, b"BZh9garbage", &mut buf).unwrap_err();
        assert!(err.starts_with("bzip2: invalid data ("), "{err}");
        assert_eq!(err.matches("bzip2").count(), 1, "{err}");
        let err = decompress(Codec::Deflate, &[0xff; 8], &mut buf).unwrap_err();
        assert!(err.starts_with("deflate: "), "{err}");
    }

    #[test]
    fn every_checksum_a_codec_has_is_checked() {
        let raw = data(50_000);
        let mut buf = Vec::new();
        // snappy: the big-endian CRC32 after the block.
        let mut block = compress(Codec::Snappy, &raw);
        let n = block.len();
        block[n - 1] ^= 1;
        let err = decompress(Codec::Snappy, &block, &mut buf).unwrap_err();
        assert!(
            err.starts_with("snappy: checksum mismatch (stored CRC32"),
            "{err}"
        );
        // zstandard: the frame's content checksum, stored or content flipped.
        let mut block = compress(Codec::Zstandard, &raw);
        let n = block.len();
        block[n - 1] ^= 1;
        let err = decompress(Codec::Zstandard, &block, &mut buf).unwrap_err();
        assert!(
            err.starts_with("zstandard: frame 1 at compressed byte 0: checksum mismatch"),
            "{err}"
        );
        let mut block = compress(Codec::Zstandard, &raw);
        block[1000] ^= 0x40;
        let err = decompress(Codec::Zstandard, &block, &mut buf).unwrap_err();
        assert!(err.contains("checksum mismatch"), "{err}");
        // bzip2: the block CRC (bytes 10..14, after "BZh" + level + the block
        // magic) and the stream CRC (in the last bytes, not byte-aligned).
        let good = compress(Codec::Bzip2, &raw);
        for at in [10, 13, good.len() - 2] {
            let mut block = good.clone();
            block[at] ^= 0x01;
            let err = decompress(Codec::Bzip2, &block, &mut buf).unwrap_err();
            assert_eq!(
                err, "bzip2: invalid data (corrupt, or a block or stream CRC does not match)",
                "byte {at}"
            );
        }
        assert_eq!(decompress(Codec::Bzip2, &good, &mut buf), Ok(&raw[..]));
    }
}
