//! Series against the obvious computation ([`super::naive`]) on random
//! records: every mode, counting method, geo source and rule set.

use super::*;

#[test]
fn report_asn_rules_agree_with_the_obvious_computation() {
    let mut seed = Rng(5);
    for counting in [
        IpCounting::All,
        IpCounting::Sample(30),
        IpCounting::PrefixAgg(20),
    ] {
        let mut options = SeriesOptions::new(Mode::Unfiltered);
        options.compat = Compat::Report;
        options.src_counting = counting;
        // Enough records that the passes run on several threads.
        let records = random_records(80_000, &mut seed);
        let want = naive(&options, &records);
        let blocks: Vec<DecodedBlock> = records.chunks(333).map(|c| block(c.to_vec())).collect();
        for threads in [1, 2] {
            let got = run_opts(&options, &blocks, threads).unwrap();
            assert_eq!(got[0].rows, want, "{counting:?} threads {threads}");
        }
    }
}

#[test]
fn random_records_agree_with_the_obvious_computation() {
    let mut seed = Rng(99);
    let set = |s: &str| Some(s.parse::<PortSet>().unwrap());
    // Port sets that keep a record's source port, its destination port,
    // both or neither. The configurations cover items of 2 to 6 keys.
    let some_ports = PortFilters {
        tcp_src: set("0-1024,8080"),
        tcp_dst: None,
        udp_src: set("53"),
        udp_dst: set("0-600,40000-65535"),
    };
    for (mode, geo, counting, ports) in [
        (Mode::Unfiltered, GeoSource::Netacq, IpCounting::All, None),
        (Mode::Nonspoofed, GeoSource::Netacq, IpCounting::All, None),
        (
            Mode::UnfilteredIpmeta,
            GeoSource::Both,
            IpCounting::All,
            None,
        ),
        (
            Mode::Unfiltered,
            GeoSource::Netacq,
            IpCounting::PrefixAgg(20),
            None,
        ),
        (
            Mode::Nonspoofed,
            GeoSource::Maxmind,
            IpCounting::Sample(31),
            None,
        ),
        (
            Mode::Unfiltered,
            GeoSource::Netacq,
            IpCounting::All,
            Some(&some_ports),
        ),
        (
            Mode::Nonspoofed,
            GeoSource::Both,
            IpCounting::All,
            Some(&some_ports),
        ),
        (
            Mode::UnroutedNonspoofed,
            GeoSource::Netacq,
            IpCounting::All,
            None,
        ),
        (
            Mode::UnfilteredIpmeta,
            GeoSource::Maxmind,
            IpCounting::Sample(30),
            None,
        ),
    ] {
        let mut options = SeriesOptions::new(mode);
        options.geo = geo;
        options.src_counting = counting;
        options.dst_counting = counting;
        if let Some(ports) = ports {
            options.ports = ports.clone();
        }
        // Enough records that the passes run on several threads.
        let records = random_records(80_000, &mut seed);
        let want = naive(&options, &records);
        let blocks: Vec<DecodedBlock> = records.chunks(333).map(|c| block(c.to_vec())).collect();
        for threads in [1, 2] {
            let got = run_opts(&options, &blocks, threads).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].rows.len(), want.len(), "{mode:?}");
            for (g, w) in got[0].rows.iter().zip(&want) {
                assert_eq!(g, w, "{mode:?} {geo:?} {counting:?} threads {threads}");
            }
        }
    }
}

/// Small intervals are counted with renumbered ids ([`super::compact`]):
/// every mode, geo source and counting method agrees with the obvious
/// computation there too.
#[test]
fn small_intervals_agree_with_the_obvious_computation() {
    let mut seed = Rng(23);
    for (mode, geo, counting, options) in option_grid(20) {
        let records = random_records(3_000, &mut seed);
        let want = naive(&options, &records);
        let blocks: Vec<DecodedBlock> = records.chunks(333).map(|c| block(c.to_vec())).collect();
        let got = run_opts(&options, &blocks, 1).unwrap();
        assert!(got[0].rows == want, "{mode:?} {geo:?} {counting:?}");
    }
    let mut options = SeriesOptions::new(Mode::Unfiltered);
    options.compat = Compat::Report;
    for counting in [IpCounting::All, IpCounting::Sample(30)] {
        options.src_counting = counting;
        let records = random_records(3_000, &mut seed);
        let want = naive(&options, &records);
        let got = run_opts(&options, &[block(records)], 2).unwrap();
        assert!(got[0].rows == want, "report {counting:?}");
    }
}
