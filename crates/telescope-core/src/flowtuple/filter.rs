//! Which records count: the spoofing and unrouted-source tests, and the
//! "popular port" test of the nonspoofed series.

use super::record::FlowRecord;

/// The record filter of a mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Every record counts.
    All,
    /// `is_spoofed == 0 || is_masscan == 1`.
    NonSpoofed,
    /// Non-spoofed and from an unrouted (reserved) source address.
    UnroutedNonSpoofed,
}

impl Filter {
    /// True when `rec` counts.
    #[inline]
    pub(crate) fn keeps(self, rec: &FlowRecord) -> bool {
        match self {
            Filter::All => true,
            Filter::NonSpoofed => is_nonspoofed(rec),
            Filter::UnroutedNonSpoofed => is_unrouted(rec.src_ip) && is_nonspoofed(rec),
        }
    }
}

/// The nonspoofed test, on exact values.
#[inline]
pub(crate) fn is_nonspoofed(rec: &FlowRecord) -> bool {
    rec.is_spoofed == 0 || rec.is_masscan == 1
}

/// Reserved, unrouted IPv4 networks as (network, prefix length).
pub(crate) const UNROUTED: [(u32, u8); 12] = [
    (0x0000_0000, 8),  // 0.0.0.0/8
    (0x0a00_0000, 8),  // 10.0.0.0/8
    (0x7f00_0000, 8),  // 127.0.0.0/8
    (0xa9fe_0000, 16), // 169.254.0.0/16
    (0xac10_0000, 12), // 172.16.0.0/12
    (0xc000_0000, 24), // 192.0.0.0/24
    (0xc000_0200, 24), // 192.0.2.0/24
    (0xc058_6300, 24), // 192.88.99.0/24
    (0xc0a8_0000, 16), // 192.168.0.0/16
    (0xc612_0000, 15), // 198.18.0.0/15
    (0xc633_6400, 24), // 198.51.100.0/24
    (0xcb00_7100, 24), // 203.0.113.0/24
];

/// True for addresses in [`UNROUTED`] or at or above 224.0.0.0.
#[inline]
pub(crate) fn is_unrouted(ip: u32) -> bool {
    ip >= 0xe000_0000
        || UNROUTED
            .iter()
            .any(|&(net, len)| ip >> (32 - u32::from(len)) == net >> (32 - u32::from(len)))
}

/// The transport protocols with port series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Protocol 6.
    Tcp,
    /// Protocol 17.
    Udp,
}

/// The "popular port" test: not 0, and below 1024 or one of a few well-known
/// high ports (TCP 5000, 5060, 6881, 8080, 8081, 8443; UDP 5060, 8080, 8081,
/// 8443).
#[inline]
pub(crate) fn is_popular_port(transport: Transport, port: i32) -> bool {
    if port == 0 {
        return false;
    }
    if (0..1024).contains(&port) {
        return true;
    }
    match transport {
        Transport::Tcp => matches!(port, 5000 | 5060 | 6881 | 8080 | 8081 | 8443),
        Transport::Udp => matches!(port, 5060 | 8080 | 8081 | 8443),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn reserved_range_edges() {
        let inside_first_last = [
            ("0.0.0.0", "0.255.255.255"),
            ("10.0.0.0", "10.255.255.255"),
            ("127.0.0.0", "127.255.255.255"),
            ("169.254.0.0", "169.254.255.255"),
            ("172.16.0.0", "172.31.255.255"),
            ("192.0.0.0", "192.0.0.255"),
            ("192.0.2.0", "192.0.2.255"),
            ("192.88.99.0", "192.88.99.255"),
            ("192.168.0.0", "192.168.255.255"),
            ("198.18.0.0", "198.19.255.255"),
            ("198.51.100.0", "198.51.100.255"),
            ("203.0.113.0", "203.0.113.255"),
        ];
        for (first, last) in inside_first_last {
            assert!(is_unrouted(ip(first)), "{first}");
            assert!(is_unrouted(ip(last)), "{last}");
            let before = ip(first).wrapping_sub(1);
            let after = ip(last).wrapping_add(1);
            if first != "0.0.0.0" {
                assert!(!is_unrouted(before), "before {first}");
            }
            assert!(!is_unrouted(after), "after {last}");
        }
        assert!(!is_unrouted(ip("223.255.255.255")));
        assert!(is_unrouted(ip("224.0.0.0")));
        assert!(is_unrouted(ip("255.255.255.255")));
        assert!(!is_unrouted(ip("1.1.1.1")));
        assert!(!is_unrouted(ip("192.0.1.0")));
    }

    #[test]
    fn popular_port_boundaries() {
        use Transport::{Tcp, Udp};
        for t in [Tcp, Udp] {
            assert!(!is_popular_port(t, 0));
            assert!(is_popular_port(t, 1));
            assert!(is_popular_port(t, 1023));
            assert!(!is_popular_port(t, 1024));
            assert!(!is_popular_port(t, -1));
            assert!(!is_popular_port(t, 65535));
            for p in [5060, 8080, 8081, 8443] {
                assert!(is_popular_port(t, p), "{t:?} {p}");
            }
            for p in [4999, 5001, 5059, 5061, 6880, 6882, 8079, 8082, 8442, 8444] {
                assert!(!is_popular_port(t, p), "{t:?} {p}");
            }
        }
        assert!(is_popular_port(Tcp, 5000));
        assert!(!is_popular_port(Udp, 5000));
        assert!(is_popular_port(Tcp, 6881));
        assert!(!is_popular_port(Udp, 6881));
        assert!(!is_popular_port(Tcp, 8082));
        assert!(!is_popular_port(Tcp, 8444));
    }

    #[test]
    fn nonspoofed_uses_exact_values() {
        let r = |s, m| FlowRecord {
            is_spoofed: s,
            is_masscan: m,
            ..FlowRecord::default()
        };
        assert!(is_nonspoofed(&r(0, 0)));
        assert!(is_nonspoofed(&r(0, 2)));
        assert!(is_nonspoofed(&r(1, 1)));
        assert!(is_nonspoofed(&r(2, 1)));
        assert!(!is_nonspoofed(&r(1, 0)));
        assert!(!is_nonspoofed(&r(2, 2)));
        assert!(!is_nonspoofed(&r(1, -1)));
    }
}
