//! Avro's binary encoding of longs and bytes, for building test inputs by
//! hand (Avro 1.11 specification, "Binary Encoding").

/// Appends Avro's long `v`: zigzag-mapped (0, -1, 1, -2, ... to 0, 1, 2,
/// 3, ...), then 7 bits at a time, low group first, the high bit set on
/// every byte but the last.
pub fn zigzag(v: i64, out: &mut Vec<u8>) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends Avro's bytes (or string) `b`: its length as a long, then the
/// bytes.
pub fn bytes(b: impl AsRef<[u8]>, out: &mut Vec<u8>) {
    let b = b.as_ref();
    zigzag(b.len() as i64, out);
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's table (0, -1, 1, -2, 2, -64, 64) and the
    /// extremes, worked out by hand.
    #[test]
    fn longs_encode_as_the_specification_shows() {
        let cases: [(i64, &[u8]); 9] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (2, &[0x04]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (
                i64::MAX,
                &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
            (
                i64::MIN,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (v, want) in cases {
            let mut out = Vec::new();
            zigzag(v, &mut out);
            assert_eq!(out, want, "{v}");
        }
        let mut out = Vec::new();
        bytes("foo", &mut out);
        assert_eq!(out, b"\x06foo");
    }
}
