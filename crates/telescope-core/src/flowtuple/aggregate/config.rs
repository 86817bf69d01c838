//! How records update series, resolved once from the options.

use crate::flowtuple::filter::{is_popular_port, Transport};
use crate::flowtuple::options::{Class, Compat, IpCounting, PortSet, SeriesOptions, SpillOptions};

/// How records update series, resolved once from the options.
#[derive(Debug, Clone)]
pub(super) struct Rules {
    pub(super) classes: Vec<Class>,
    pub(super) protocols: bool,
    pub(super) ports: bool,
    pub(super) icmp: bool,
    pub(super) asns: bool,
    /// Geo sources in table order: Net Acuity and/or MaxMind.
    pub(super) geo: Vec<GeoField>,
    pub(super) popular_only: bool,
    pub(super) port_sets: [Option<PortSet>; 4],
    pub(super) src_counting: IpCounting,
    pub(super) dst_counting: IpCounting,
    /// The report plugin's rules ([`rules`]) rather than the script's.
    pub(super) report: bool,
    /// Under report rules with `prefixagg` sources: ASNs of source aggregates' first records ([`super::items::FirstItem`]).
    pub(super) first_asns: bool,
    pub(super) interval_length: u32,
    /// When and where the interval being read spills; with `first_asns`,
    /// the limit is what is left after `pair_budget`.
    pub(super) spill: Option<SpillOptions>,
    /// With `first_asns` and a limit: the bytes the first-ASN pairs may
    /// take in memory while an interval is counted (an eighth of the
    /// limit, see [`super::pairs`]).
    pub(super) pair_budget: u64,
}

/// Which tags of a record a geo table pair reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GeoField {
    Netacq,
    Maxmind,
}

impl Rules {
    pub(super) fn new(options: &SeriesOptions) -> Rules {
        let classes = options.mode.classes(options.geo);
        let has = |c: Class| classes.contains(&c);
        let mut geo = Vec::new();
        if has(Class::NetacqContinents) {
            geo.push(GeoField::Netacq);
        }
        if has(Class::MaxmindContinents) {
            geo.push(GeoField::Maxmind);
        }
        let p = &options.ports;
        let first_asns = options.compat == Compat::Report
            && matches!(options.src_counting, IpCounting::PrefixAgg(_));
        let mut spill = options.spill.clone();
        let mut pair_budget = 0;
        if let (true, Some(spill)) = (first_asns, &mut spill) {
            pair_budget = spill.limit / 8;
            spill.limit -= pair_budget;
        }
        Rules {
            protocols: has(Class::IpProtocol),
            ports: has(Class::TcpSrcPorts),
            icmp: has(Class::Icmp),
            asns: has(Class::Asn),
            geo,
            popular_only: options.mode.popular_ports_only(),
            port_sets: [
                p.tcp_src.clone(),
                p.tcp_dst.clone(),
                p.udp_src.clone(),
                p.udp_dst.clone(),
            ],
            src_counting: options.src_counting,
            dst_counting: options.dst_counting,
            report: options.compat == Compat::Report,
            first_asns,
            interval_length: options.interval_length,
            spill,
            pair_budget,
            classes,
        }
    }

    /// The most series keys one record's items hold (besides the summary):
    /// a port or ICMP key implies the protocol key, which takes a place of
    /// its own only in records without one; all geo keys take one place
    /// (see `keys::GeoTuples`).
    pub(super) fn keys_per_record(&self) -> usize {
        let transport = if self.ports {
            2
        } else {
            usize::from(self.icmp)
        };
        let protocol = if self.protocols {
            transport.max(1)
        } else {
            transport
        };
        protocol + usize::from(self.asns) + usize::from(!self.geo.is_empty())
    }

    #[inline]
    pub(super) fn wants_port(&self, transport: Transport, set: usize, port: i32) -> bool {
        (!self.popular_only || is_popular_port(transport, port))
            && self.port_sets[set]
                .as_ref()
                .is_none_or(|s| s.contains(port))
    }
}
