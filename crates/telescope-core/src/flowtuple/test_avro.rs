//! Avro encodings for building test inputs by hand.

/// The raw varint bytes of `v` (7 bits at a time, low group first).
fn raw_varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Avro's long `v`: a zigzag varint.
pub(crate) fn zigzag(v: i64, out: &mut Vec<u8>) {
    raw_varint(((v << 1) ^ (v >> 63)) as u64, out);
}

/// Avro's bytes `b`: its length, then the bytes.
pub(crate) fn bytes(b: &[u8], out: &mut Vec<u8>) {
    zigzag(b.len() as i64, out);
    out.extend_from_slice(b);
}
