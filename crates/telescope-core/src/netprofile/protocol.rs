//! IP protocol numbers and the names used as profile keys.

use std::fmt;
use std::str::FromStr;

/// IANA protocol keywords of common protocols (a small table, not the full
/// registry). Numbers not listed are shown as numbers.
const KEYWORDS: &[(u8, &str)] = &[
    (0, "HOPOPT"),
    (1, "ICMP"),
    (2, "IGMP"),
    (4, "IPv4"),
    (6, "TCP"),
    (8, "EGP"),
    (9, "IGP"),
    (17, "UDP"),
    (33, "DCCP"),
    (41, "IPv6"),
    (43, "IPv6-Route"),
    (44, "IPv6-Frag"),
    (46, "RSVP"),
    (47, "GRE"),
    (50, "ESP"),
    (51, "AH"),
    (58, "IPv6-ICMP"),
    (59, "IPv6-NoNxt"),
    (60, "IPv6-Opts"),
    (88, "EIGRP"),
    (89, "OSPFIGP"),
    (94, "IPIP"),
    (97, "ETHERIP"),
    (103, "PIM"),
    (112, "VRRP"),
    (115, "L2TP"),
    (132, "SCTP"),
    (136, "UDPLite"),
    (137, "MPLS-in-IP"),
];

/// An IP protocol number (the NEMEA `PROTOCOL` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Protocol(pub u8);

impl Protocol {
    /// ICMP (1).
    pub const ICMP: Protocol = Protocol(1);
    /// TCP (6).
    pub const TCP: Protocol = Protocol(6);
    /// UDP (17).
    pub const UDP: Protocol = Protocol(17);

    /// The profile key: the IANA keyword when known, else the number.
    pub fn key(self) -> String {
        KEYWORDS
            .iter()
            .find(|(n, _)| *n == self.0)
            .map_or_else(|| self.0.to_string(), |(_, k)| (*k).to_string())
    }

    /// The names accepted by [`FromStr`]: every known keyword.
    pub fn known_names() -> impl Iterator<Item = &'static str> {
        KEYWORDS.iter().map(|(_, k)| *k)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A protocol text that is neither a known keyword nor a number 0-255.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol {0:?}: use a number 0-255 or a name such as ICMP, TCP, UDP, GRE")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    /// A number 0-255 or a keyword from the table (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(n) = t.parse::<u8>() {
            return Ok(Protocol(n));
        }
        KEYWORDS
            .iter()
            .find(|(_, k)| k.eq_ignore_ascii_case(t))
            .map(|(n, _)| Protocol(*n))
            .ok_or_else(|| UnknownProtocol(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!("tcp".parse(), Ok(Protocol::TCP));
        assert_eq!("17".parse(), Ok(Protocol::UDP));
        assert_eq!("ICMP".parse(), Ok(Protocol::ICMP));
        assert_eq!("gre".parse(), Ok(Protocol(47)));
        assert!("256".parse::<Protocol>().is_err());
        assert!("FOO".parse::<Protocol>().is_err());
        assert_eq!(Protocol(41).key(), "IPv6");
        assert_eq!(Protocol(58).key(), "IPv6-ICMP");
        assert_eq!(Protocol(253).key(), "253");
    }
}
