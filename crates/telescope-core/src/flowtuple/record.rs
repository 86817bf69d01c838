//! The decoded form of one flowtuple record, and its geo tags.

use std::fmt;

/// A geo tag (`EU`, `FR`, `??`, ...), sanitised, inline in 16 bytes.
///
/// Bytes are stored front to back with zero padding, so the derived order is
/// the byte order of the strings (sanitised tags hold no zero bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GeoTag([u8; MAX_TAG_BYTES]);

/// The longest geo tag accepted, in bytes.
pub const MAX_TAG_BYTES: usize = 16;

impl GeoTag {
    /// The tag printed for untagged, empty or unprintable strings.
    pub const UNKNOWN: GeoTag = GeoTag(*b"??\0\0\0\0\0\0\0\0\0\0\0\0\0\0");

    /// Sanitises raw string bytes: empty, whitespace, control bytes or
    /// invalid UTF-8 become `??`. `None` when longer than [`MAX_TAG_BYTES`].
    pub fn from_bytes(raw: &[u8]) -> Option<GeoTag> {
        if raw.len() > MAX_TAG_BYTES {
            return None;
        }
        if raw.is_empty()
            || raw.iter().any(|&b| b <= b' ' || b == 0x7f)
            || std::str::from_utf8(raw).is_err()
        {
            return Some(GeoTag::UNKNOWN);
        }
        let mut buf = [0u8; MAX_TAG_BYTES];
        buf[..raw.len()].copy_from_slice(raw);
        Some(GeoTag(buf))
    }

    /// The tag of printable ASCII bytes (`!` to `~`, one to
    /// [`MAX_TAG_BYTES`] of them) given zero-padded: what
    /// [`GeoTag::from_bytes`] gives for them. The caller checks the bytes.
    pub(crate) const fn from_printable_padded(padded: [u8; MAX_TAG_BYTES]) -> GeoTag {
        GeoTag(padded)
    }

    /// The tag's bytes, zero padded.
    pub fn padded(&self) -> &[u8; MAX_TAG_BYTES] {
        &self.0
    }

    /// The tag's text.
    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(MAX_TAG_BYTES);
        std::str::from_utf8(&self.0[..len]).unwrap_or("??")
    }
}

impl fmt::Display for GeoTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for GeoTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// The fields of one flowtuple record that the series use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowRecord {
    /// Interval start, Unix seconds.
    pub time: i64,
    /// Packets of this flowtuple.
    pub packet_cnt: i64,
    /// Source ASN (0 = unknown); AS numbers are 32-bit (RFC 6793).
    pub prefix2asn: u32,
    /// Source IPv4 address.
    pub src_ip: u32,
    /// Destination IPv4 address.
    pub dst_ip: u32,
    /// Source port, or ICMP type.
    pub src_port: i32,
    /// Destination port, or ICMP code.
    pub dst_port: i32,
    /// IP protocol number.
    pub protocol: i32,
    /// IP packet length.
    pub ip_len: i32,
    /// Spoofing heuristic.
    pub is_spoofed: i32,
    /// Masscan heuristic.
    pub is_masscan: i32,
    /// Net Acuity continent and country.
    pub netacq: [GeoTag; 2],
    /// MaxMind continent and country.
    pub maxmind: [GeoTag; 2],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_sanitised() {
        for raw in [&b""[..], b" x", b"a\tb", b"\x01z", b"\x7f", b"\xff\xfe"] {
            assert_eq!(GeoTag::from_bytes(raw), Some(GeoTag::UNKNOWN), "{raw:?}");
        }
        assert_eq!(GeoTag::from_bytes(b"EU").unwrap().as_str(), "EU");
        assert_eq!(GeoTag::from_bytes("é".as_bytes()).unwrap().as_str(), "é");
        assert_eq!(GeoTag::from_bytes(&[b'a'; 16]).unwrap().as_str().len(), 16);
        assert_eq!(GeoTag::from_bytes(&[b'a'; 17]), None);
    }

    #[test]
    fn tags_order_as_strings() {
        let t = |s: &str| GeoTag::from_bytes(s.as_bytes()).unwrap();
        assert!(t("A") < t("AB"));
        assert!(t("AB") < t("B"));
        assert!(t("??") < t("AF"));
        assert!(t("EU") < t("NA"));
    }
}
