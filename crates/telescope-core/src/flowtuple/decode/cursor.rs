//! Reading Avro binary values from a block's bytes: zigzag varints (from an
//! eight-byte word when eight bytes remain, byte by byte otherwise), geo
//! tags, and the range checks and messages of the decoded values.

use crate::flowtuple::record::{GeoTag, MAX_TAG_BYTES};
use crate::flowtuple::schema::{Field, Skip};
/// The high bit of every byte of a word: the varint continuation bits.
pub(super) const CONTINUATION: u64 = 0x8080_8080_8080_8080;

/// Reads Avro binary values from a byte slice.
///
/// Small and `Copy`, so that the decoding loop can keep it in registers: the
/// out-of-line paths take the position by value and return the new one.
#[derive(Clone, Copy)]
pub(super) struct Cursor<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    /// The next eight bytes as a little-endian word, when there are eight.
    #[inline(always)]
    pub(super) fn word(&self) -> Option<u64> {
        let chunk = self.data.get(self.pos..self.pos.wrapping_add(8))?;
        let bytes: [u8; 8] = chunk.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    }

    /// Reads a zigzag varint.
    #[inline(always)]
    pub(super) fn long(&mut self) -> Result<i64, String> {
        // Fast paths, when eight bytes are there and the varint ends within
        // them (values below 2^56). Lengths up to five bytes are tested one
        // by one: the processor predicts these branches per field (most
        // fields keep their length from record to record), so the next
        // read's position does not wait for this one's data. Longer varints
        // find their end and gather their 7-bit groups without a loop.
        if let Some(w) = self.word() {
            if w & 0x80 == 0 {
                self.pos += 1;
                return Ok(unzigzag(w & 0x7f));
            }
            if w & 0x8000 == 0 {
                self.pos += 2;
                return Ok(unzigzag((w & 0x7f) | ((w >> 1) & 0x3f80)));
            }
            if w & 0x80_0000 == 0 {
                self.pos += 3;
                return Ok(unzigzag(gather(w & 0xff_ffff)));
            }
            if w & 0x8000_0000 == 0 {
                self.pos += 4;
                return Ok(unzigzag(gather(w & 0xffff_ffff)));
            }
            if w & 0x80_0000_0000 == 0 {
                self.pos += 5;
                return Ok(unzigzag(gather(w & 0xff_ffff_ffff)));
            }
            let stops = !w & CONTINUATION;
            if stops != 0 {
                // Every bit up to the high bit of the varint's last byte.
                let keep = stops ^ (stops - 1);
                let mut x = w & keep & !CONTINUATION;
                x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
                x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
                x = (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4);
                self.pos += (stops.trailing_zeros() as usize + 1) / 8;
                return Ok(unzigzag(x));
            }
        }
        let (v, pos) = long_slow(self.data, self.pos)?;
        self.pos = pos;
        Ok(v)
    }

    /// Passes over `n` varints.
    #[inline(always)]
    pub(super) fn skip_varints(&mut self, n: u32) -> Result<(), String> {
        for _ in 0..n {
            match self.word() {
                Some(w) if w & 0x80 == 0 => self.pos += 1,
                Some(w) if w & 0x8000 == 0 => self.pos += 2,
                Some(w) if !w & CONTINUATION != 0 => {
                    let stops = !w & CONTINUATION;
                    self.pos += (stops.trailing_zeros() as usize + 1) / 8;
                }
                _ => self.pos = long_slow(self.data, self.pos)?.1,
            }
        }
        Ok(())
    }

    #[inline]
    pub(super) fn bytes(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(len).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(eof());
        };
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    #[inline(always)]
    pub(super) fn length(&mut self) -> Result<usize, String> {
        let len = self.long()?;
        usize::try_from(len).map_err(|_| negative_length(len))
    }

    /// Reads a string as a geo tag. Printable ASCII tags without `.`, `/`
    /// and `;`, with 16 bytes of data from their start, are checked and
    /// copied in one piece; the rest
    /// go through [`GeoTag::from_bytes`]. Out of line (it keeps the number
    /// reading loop tighter), so it takes and returns the cursor by value.
    #[inline(never)]
    pub(super) fn tag(mut self, field: Field) -> Result<(GeoTag, Self), String> {
        let n = self.length()?;
        if n.wrapping_sub(1) < MAX_TAG_BYTES {
            let window = self
                .data
                .get(self.pos..self.pos.wrapping_add(MAX_TAG_BYTES))
                .and_then(|w| <[u8; MAX_TAG_BYTES]>::try_from(w).ok());
            if let Some(window) = window {
                let keep = u128::MAX >> (8 * (MAX_TAG_BYTES - n));
                let x = u128::from_le_bytes(window) & keep;
                if all_tag_bytes(x, keep) {
                    self.pos += n;
                    return Ok((GeoTag::from_printable_padded(x.to_le_bytes()), self));
                }
            }
        }
        let raw = self.bytes(n)?;
        let tag = GeoTag::from_bytes(raw).ok_or_else(|| tag_too_long(field, n))?;
        Ok((tag, self))
    }

    pub(super) fn skip(&mut self, skip: &Skip) -> Result<(), String> {
        match skip {
            Skip::Nothing => {}
            Skip::Varint => {
                self.long()?;
            }
            Skip::Bytes(n) => {
                self.bytes(*n)?;
            }
            Skip::LengthPrefixed => {
                let n = self.length()?;
                self.bytes(n)?;
            }
            Skip::Array(item) => self.skip_blocks(|c| c.skip(item))?,
            Skip::Map(value) => self.skip_blocks(|c| {
                let n = c.length()?;
                c.bytes(n)?;
                c.skip(value)
            })?,
            Skip::Union(branches) => {
                let i = self.long()?;
                let branch = usize::try_from(i)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| format!("union branch {i} does not exist"))?;
                self.skip(branch)?;
            }
            Skip::Record(fields) => {
                for f in fields {
                    self.skip(f)?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn skip_blocks(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        loop {
            let mut n = self.long()?;
            if n == 0 {
                return Ok(());
            }
            if n < 0 {
                n = n.checked_neg().ok_or("bad item count")?;
                self.long()?;
            }
            for _ in 0..n {
                item(self)?;
            }
        }
    }
}

/// The 7-bit groups of the varint bytes in `w` (bytes after the varint
/// cleared), gathered into the value.
#[inline(always)]
pub(super) fn gather(w: u64) -> u64 {
    let mut x = w & !CONTINUATION;
    x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
    x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
    (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4)
}

/// Reads a zigzag varint at `pos` byte by byte, checking every byte; the
/// value and the position after it.
#[cold]
#[inline(never)]
pub(super) fn long_slow(data: &[u8], mut pos: usize) -> Result<(i64, usize), String> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let Some(&b) = data.get(pos) else {
            return Err(eof());
        };
        pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((unzigzag(value), pos));
        }
        shift += 7;
        if shift > 63 {
            return Err(format!("varint longer than 10 bytes at data offset {pos}"));
        }
    }
}

#[cold]
#[inline(never)]
pub(super) fn eof() -> String {
    "record data ends early (corrupt block or wrong record count)".to_string()
}

/// True when every byte of `x` under `keep` (0xff or 0x00 bytes) is
/// printable ASCII, `!` (0x21) to `~` (0x7e).
#[inline(always)]
pub(super) fn all_tag_bytes(x: u128, keep: u128) -> bool {
    const ONES: u128 = u128::MAX / 0xff;
    const HIGH: u128 = ONES * 0x80;
    // Per byte, with the high bit cleared, `low + (0x80 - c)` neither
    // carries out nor into the next byte, and has its high bit set
    // exactly when the byte is at least `c` (1 <= c <= 0x80).
    let low = x & !HIGH;
    let at_least = |c: u8| low + ONES * (0x80 - c as u128);
    let within = |lo: u8, hi: u8| at_least(lo) & !at_least(hi + 1);
    let printable = within(b'!', b'~');
    let refused = within(b'.', b'/') | within(b';', b';');
    // A byte with its high bit set is not ASCII: the slow path's.
    (x | !printable | refused) & HIGH & keep == 0
}

#[inline(always)]
pub(super) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cold]
#[inline(never)]
pub(super) fn negative_length(len: i64) -> String {
    format!("negative length {len}")
}

#[cold]
#[inline(never)]
pub(super) fn not_int(field: Field, v: i64) -> String {
    format!("{} value {v} is outside the int range", field.name())
}

#[cold]
#[inline(never)]
pub(super) fn not_ipv4(field: Field, v: i64) -> String {
    format!("{} value {v} is not an IPv4 address", field.name())
}

#[cold]
#[inline(never)]
pub(super) fn not_asn(v: i64) -> String {
    format!("prefix2asn value {v} is not a 32-bit AS number")
}

#[cold]
#[inline(never)]
pub(super) fn tag_too_long(field: Field, n: usize) -> String {
    format!(
        "{} is {n} bytes long; geo tags are at most {MAX_TAG_BYTES}",
        field.name()
    )
}

#[inline(always)]
pub(super) fn int32(field: Field, v: i64) -> Result<i32, String> {
    i32::try_from(v).map_err(|_| not_int(field, v))
}

#[inline(always)]
pub(super) fn ipv4(field: Field, v: i64) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| not_ipv4(field, v))
}
