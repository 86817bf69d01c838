use super::*;

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

#[test]
fn prefixagg_keys() {
    let p = |n| IpCounting::PrefixAgg(n);
    assert_eq!(p(24).count_key(ip("10.1.2.3"), 0), Some(0x000a_0102));
    assert_eq!(
        p(24).count_key(ip("10.1.2.200"), 5),
        p(24).count_key(ip("10.1.2.3"), 0)
    );
    assert_eq!(p(32).count_key(ip("10.1.2.3"), 7), Some(ip("10.1.2.3")));
    assert_eq!(p(1).count_key(ip("127.255.255.255"), 0), Some(0));
    assert_eq!(p(1).count_key(ip("128.0.0.0"), 0), Some(1));
}

#[test]
fn sample_keys() {
    let s = |n| IpCounting::Sample(n);
    // /24: host part must equal ordinal mod 256.
    assert_eq!(s(24).count_key(ip("10.0.0.0"), 0), Some(ip("10.0.0.0")));
    assert_eq!(s(24).count_key(ip("10.0.0.1"), 0), None);
    assert_eq!(s(24).count_key(ip("10.0.0.1"), 1), Some(ip("10.0.0.1")));
    assert_eq!(s(24).count_key(ip("10.0.0.1"), 257), Some(ip("10.0.0.1")));
    // /32: every address, whatever the ordinal.
    assert_eq!(s(32).count_key(ip("1.2.3.4"), 9), Some(ip("1.2.3.4")));
    // /1: 31 host bits.
    assert_eq!(s(1).count_key(ip("128.0.0.3"), 3), Some(ip("128.0.0.3")));
    assert_eq!(s(1).count_key(ip("0.0.0.3"), 3), Some(ip("0.0.0.3")));
    assert_eq!(s(1).count_key(ip("0.0.0.3"), 2), None);
    assert_eq!(
        s(1).count_key(ip("0.0.0.3"), (1 << 31) + 3),
        Some(ip("0.0.0.3"))
    );
}

#[test]
fn sample_index_comes_from_the_time() {
    assert_eq!(sample_index(0, 60), 0);
    assert_eq!(sample_index(59, 60), 0);
    assert_eq!(sample_index(60, 60), 1);
    // 1700000000 / 60 = 28333333 (rounded down); 28333333 mod 256 = 21.
    assert_eq!(sample_index(1_700_000_000, 60), 28_333_333);
    assert_eq!(sample_index(1_700_000_000, 60) % 256, 21);
    assert_eq!(sample_index(-1, 60), (1 << 32) - 1, "rounded down");
    assert_eq!(sample_index(300, 1), 300);
    let s24 = IpCounting::Sample(24);
    // Minute 255 samples .255, the next minute wraps to .0.
    assert_eq!(
        s24.count_key(ip("1.2.3.255"), sample_index(255 * 60, 60)),
        Some(ip("1.2.3.255"))
    );
    assert_eq!(
        s24.count_key(ip("1.2.3.0"), sample_index(256 * 60, 60)),
        Some(ip("1.2.3.0"))
    );
}

#[test]
fn counting_methods_parse() {
    assert_eq!("all".parse(), Ok(IpCounting::All));
    assert_eq!("prefixagg:1".parse(), Ok(IpCounting::PrefixAgg(1)));
    assert_eq!("sample:32".parse(), Ok(IpCounting::Sample(32)));
    for bad in [
        "prefixagg:0",
        "prefixagg:33",
        "sample:",
        "sample:x",
        "none",
        "prefixagg",
    ] {
        assert!(bad.parse::<IpCounting>().is_err(), "{bad}");
    }
}

#[test]
fn port_sets_parse() {
    let set: PortSet = "0-1024,5000,8080-8081".parse().unwrap();
    for p in [0, 1, 1024, 5000, 8080, 8081] {
        assert!(set.contains(p), "{p}");
    }
    for p in [1025, 4999, 5001, 8082, 65535, -1] {
        assert!(!set.contains(p), "{p}");
    }
    assert!("65535".parse::<PortSet>().unwrap().contains(65535));
    for bad in [
        "", "1,,2", "5-3", "65536", "a", "1-", "-1", "1-2-3", "80 443",
    ] {
        assert!(bad.parse::<PortSet>().is_err(), "{bad}");
    }
}

#[test]
fn modes_parse_and_list_valid_names() {
    assert_eq!("nonspoofed".parse(), Ok(Mode::Nonspoofed));
    let err = "spoofed".parse::<Mode>().unwrap_err().to_string();
    assert!(
        err.contains("unfiltered, unfiltered-ipmeta, nonspoofed, unrouted-nonspoofed"),
        "{err}"
    );
}

#[test]
fn class_order_per_mode() {
    let names = |m: Mode, g| {
        m.classes(g)
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(
        names(Mode::Nonspoofed, GeoSource::Netacq),
        "summary,ipprotocol,netacq_continents,netacq_countries,tcp_src_ports,tcp_dst_ports,icmp,udp_src_ports,udp_dst_ports"
    );
    assert_eq!(
        names(Mode::UnfilteredIpmeta, GeoSource::Both),
        "netacq_continents,netacq_countries,maxmind_continents,maxmind_countries,asn"
    );
    assert_eq!(
        names(Mode::UnroutedNonspoofed, GeoSource::Maxmind),
        "summary,ipprotocol"
    );
}
