//! Avro object container files: the header, then blocks of
//! `count, size, data, sync`. Hand-read (rather than through apache-avro's
//! generic reader) so that blocks can be decoded in parallel and every error
//! names its byte offset and block.

use std::io::{self, Read};

use super::super::error::{FlowtupleError, Position};
use super::codec::{Codec, MAX_BLOCK_BYTES, MAX_STORED_BYTES};
use super::input::WrapperFault;

/// The container file header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// The writer schema, as JSON text.
    pub schema_json: String,
    /// The codec of every block.
    pub codec: Codec,
}

/// One block as read from the stream, still compressed.
#[derive(Debug)]
pub(crate) struct RawBlock {
    /// Where the block starts.
    pub pos: Position,
    /// Number of records the block claims to hold.
    pub count: u64,
    /// The (compressed) block data.
    pub data: Vec<u8>,
}

/// Reads the header and then the blocks of a container file, in order.
pub(crate) struct BlockReader<R> {
    inner: R,
    offset: u64,
    next_block: u64,
    sync: [u8; 16],
}

enum Eof {
    Clean,
    Truncated,
}

impl<R: Read> BlockReader<R> {
    /// Reads and checks the file header.
    pub(crate) fn open(mut inner: R) -> Result<(Header, BlockReader<R>), FlowtupleError> {
        let mut magic = [0u8; 4];
        let got = read_full(&mut inner, &mut magic).map_err(|e| read_error(0, e))?;
        if got == 0 {
            return Err(FlowtupleError::NotAvro("the input is empty".into()));
        }
        if got < 4 || &magic != b"Obj\x01" {
            return Err(FlowtupleError::NotAvro(format!(
                "it starts with {} instead of the magic bytes `Obj\\x01`",
                hex(&magic[..got])
            )));
        }
        let mut reader = BlockReader {
            inner,
            offset: 4,
            next_block: 0,
            sync: [0; 16],
        };
        let header_pos = Position {
            offset: 0,
            block: None,
        };
        let mut schema = None;
        let mut codec = Codec::Null;
        loop {
            let mut n = reader.header_long(header_pos, "metadata map")?;
            if n == 0 {
                break;
            }
            if n < 0 {
                n = n
                    .checked_neg()
                    .ok_or_else(|| bad_header("bad map block count"))?;
                reader.header_long(header_pos, "metadata map block size")?;
            }
            for _ in 0..n {
                let key = reader.header_bytes(header_pos, "metadata key")?;
                let value = reader.header_bytes(header_pos, "metadata value")?;
                match key.as_slice() {
                    b"avro.schema" => schema = Some(value),
                    b"avro.codec" => {
                        codec = Codec::from_name(&value).ok_or_else(|| {
                            FlowtupleError::UnsupportedCodec(
                                String::from_utf8_lossy(&value).into_owned(),
                            )
                        })?
                    }
                    _ => {}
                }
            }
        }
        let mut sync = [0u8; 16];
        reader.exact(&mut sync, header_pos, "header sync marker")?;
        reader.sync = sync;
        let schema = schema.ok_or_else(|| bad_header("no avro.schema in the header"))?;
        let schema_json =
            String::from_utf8(schema).map_err(|_| bad_header("avro.schema is not UTF-8"))?;
        Ok((Header { schema_json, codec }, reader))
    }

    /// The next block, `None` at the clean end of the file.
    pub(crate) fn next_block(&mut self) -> Result<Option<RawBlock>, FlowtupleError> {
        let pos = Position {
            offset: self.offset,
            block: Some(self.next_block),
        };
        let count = match self.long()? {
            Ok(v) => v,
            Err(Eof::Clean) => return Ok(None),
            Err(Eof::Truncated) => return Err(truncated(pos, "block record count")),
        };
        let size = match self.long()? {
            Ok(v) => v,
            Err(_) => return Err(truncated(pos, "block size")),
        };
        let corrupt = |what: String| FlowtupleError::Corrupt { at: pos, what };
        if count < 0 || size < 0 {
            return Err(corrupt(format!(
                "implausible block header (count {count}, size {size})"
            )));
        }
        if size as u64 > MAX_STORED_BYTES as u64 {
            return Err(corrupt(format!(
                "the block claims to store {size} bytes, more than the {MAX_STORED_BYTES} this reader accepts"
            )));
        }
        // Every record takes at least one byte of the uncompressed block.
        if count as u64 > MAX_BLOCK_BYTES as u64 {
            return Err(corrupt(format!(
                "the block claims {count} records, more than a block of at most {MAX_BLOCK_BYTES} bytes can hold"
            )));
        }
        // The size is bounded, so the claim can be allocated up front.
        let mut data = Vec::with_capacity(size as usize);
        let got = (&mut self.inner)
            .take(size as u64)
            .read_to_end(&mut data)
            .map_err(|e| read_error(self.offset, e))?;
        self.offset += got as u64;
        if (got as u64) < size as u64 {
            return Err(truncated(
                pos,
                &format!("block data ({got} of {size} bytes present)"),
            ));
        }
        let mut sync = [0u8; 16];
        self.exact(&mut sync, pos, "block sync marker")?;
        if sync != self.sync {
            return Err(FlowtupleError::BadSync { at: pos });
        }
        self.next_block += 1;
        Ok(Some(RawBlock {
            pos,
            count: count as u64,
            data,
        }))
    }

    fn byte(&mut self) -> Result<Option<u8>, FlowtupleError> {
        let mut b = [0u8; 1];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    self.offset += 1;
                    return Ok(Some(b[0]));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(self.offset, e)),
            }
        }
    }

    /// A zigzag varint long; `Err(Clean)` when the stream ends before it.
    fn long(&mut self) -> Result<Result<i64, Eof>, FlowtupleError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = match self.byte()? {
                Some(b) => b,
                None if i == 0 => return Ok(Err(Eof::Clean)),
                None => return Ok(Err(Eof::Truncated)),
            };
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(Ok(((value >> 1) as i64) ^ -((value & 1) as i64)));
            }
        }
        Err(FlowtupleError::Corrupt {
            at: Position {
                offset: self.offset,
                block: Some(self.next_block),
            },
            what: "varint longer than 10 bytes".into(),
        })
    }

    fn header_long(&mut self, pos: Position, what: &str) -> Result<i64, FlowtupleError> {
        match self.long()? {
            Ok(v) => Ok(v),
            Err(_) => Err(truncated(pos, what)),
        }
    }

    fn header_bytes(&mut self, pos: Position, what: &str) -> Result<Vec<u8>, FlowtupleError> {
        let len = self.header_long(pos, what)?;
        if !(0..=(64 << 20)).contains(&len) {
            return Err(bad_header(&format!("{what} has implausible length {len}")));
        }
        // Grows with the bytes present, not with what the length claims.
        let mut buf = Vec::with_capacity((len as usize).min(64 << 10));
        let got = (&mut self.inner)
            .take(len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| read_error(self.offset, e))?;
        self.offset += got as u64;
        if got < len as usize {
            return Err(truncated(pos, what));
        }
        Ok(buf)
    }

    fn exact(&mut self, buf: &mut [u8], pos: Position, what: &str) -> Result<(), FlowtupleError> {
        let got = read_full(&mut self.inner, buf).map_err(|e| read_error(self.offset, e))?;
        self.offset += got as u64;
        if got < buf.len() {
            return Err(truncated(pos, what));
        }
        Ok(())
    }
}

/// A failure to read the Avro stream at `offset`: a fault a wrapper's
/// decompressor found, or an error reading the file.
pub(crate) fn read_error(offset: u64, error: io::Error) -> FlowtupleError {
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<WrapperFault>())
    {
        Some(fault) => FlowtupleError::Wrapper {
            offset,
            what: fault.0.clone(),
        },
        None => FlowtupleError::Io { offset, error },
    }
}

fn truncated(at: Position, what: &str) -> FlowtupleError {
    FlowtupleError::Truncated {
        at,
        what: format!("the file ends inside the {what}"),
    }
}

fn bad_header(what: &str) -> FlowtupleError {
    FlowtupleError::BadHeader(what.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
