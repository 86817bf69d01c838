//! The decoded form of one flowtuple record, and its geo tags.

use std::fmt;

/// A geo tag (`EU`, `FR`, `??`, ...), sanitised, inline in 16 bytes.
///
/// Bytes are stored front to back with zero padding, so the derived order is
/// the byte order of the strings (sanitised tags hold no zero bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GeoTag([u8; MAX_TAG_BYTES]);

/// The longest geo tag accepted, in bytes.
pub(crate) const MAX_TAG_BYTES: usize = 16;

impl GeoTag {
    /// The tag counted and printed for every tag that is not one safe
    /// Graphite path node: empty, invalid UTF-8, or holding whitespace, a
    /// control character, `.`, `/` or `;`.
    pub const UNKNOWN: GeoTag = GeoTag(*b"??\0\0\0\0\0\0\0\0\0\0\0\0\0\0");

    /// Sanitises raw string bytes. A tag that is not one safe Graphite
    /// path node becomes `??` ([`is_key_char`]): empty, invalid UTF-8, or
    /// holding whitespace of any kind (Unicode's too), a control
    /// character, `.`, `/` or `;`. Every format counts and prints the same
    /// keys. `None` when longer than [`MAX_TAG_BYTES`].
    pub(crate) fn from_bytes(raw: &[u8]) -> Option<GeoTag> {
        if raw.len() > MAX_TAG_BYTES {
            return None;
        }
        let keyable = match std::str::from_utf8(raw) {
            Ok(text) => !text.is_empty() && text.chars().all(is_key_char),
            Err(_) => false,
        };
        if !keyable {
            return Some(GeoTag::UNKNOWN);
        }
        let mut buf = [0u8; MAX_TAG_BYTES];
        buf[..raw.len()].copy_from_slice(raw);
        Some(GeoTag(buf))
    }

    /// The tag of one to [`MAX_TAG_BYTES`] printable ASCII bytes (`!` to
    /// `~`) other than `.`, `/` and `;`, given zero-padded: what
    /// [`GeoTag::from_bytes`] gives for them. The caller checks the bytes.
    pub(crate) const fn from_printable_padded(padded: [u8; MAX_TAG_BYTES]) -> GeoTag {
        GeoTag(padded)
    }

    /// The tag's bytes, zero padded.
    pub(crate) fn padded(&self) -> &[u8; MAX_TAG_BYTES] {
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

/// True for the characters a geo tag may hold to be kept as a key: any
/// but whitespace (`char::is_whitespace`: ASCII's and Unicode's, which
/// carbon's line parser splits on too), control characters, and the three
/// that change what a Graphite key means: `.` (the path separator: a tag
/// `..` would write its continent's metric), `/` (a directory in
/// whisper's file path) and `;` (it starts the tags of a tagged series).
/// Glob characters (`*`, `?`, `[`, `]`, `{`, `}`) are stored by carbon as
/// they are; a target matches them literally in brackets (`[?][?]`).
pub(crate) fn is_key_char(c: char) -> bool {
    !(c.is_whitespace() || c.is_control() || matches!(c, '.' | '/' | ';'))
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
        let unknown = [
            "", " x", "a\tb", "\x01z", "\x7f", "\u{85}", "\u{9f}x", "E\u{a0}U", "\u{1680}",
            "\u{2003}", "\u{2028}", "\u{202f}", "\u{3000}", "..", ".", "E.U", "a/b", "/", "x;y=z",
            ";",
        ];
        for raw in unknown
            .iter()
            .map(|s| s.as_bytes())
            .chain([&b"\xff\xfe"[..]])
        {
            assert_eq!(GeoTag::from_bytes(raw), Some(GeoTag::UNKNOWN), "{raw:?}");
        }
        let kept = [
            "EU", "A1", "fr", "--", "_", "é", "Éz", "x,", "q\"", "b\\", "*", "??", "[?]",
            "\u{200b}",
        ];
        for kept in kept {
            assert_eq!(GeoTag::from_bytes(kept.as_bytes()).unwrap().as_str(), kept);
        }
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
