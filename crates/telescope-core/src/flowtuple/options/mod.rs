//! What to compute: the mode, its series classes, and the report-plugin
//! options (IP counting methods, geo source, port ranges).

use std::fmt;
use std::str::FromStr;

use super::error::{ParseError, TempDirError};
use super::filter::Filter;
use super::schema::Field;

/// Which records count and which series are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every record: summary, protocols, all TCP/UDP ports, ICMP.
    Unfiltered,
    /// Every record: geo and ASN series.
    UnfilteredIpmeta,
    /// Non-spoofed records: summary, protocols, geo, popular ports, ICMP.
    Nonspoofed,
    /// Non-spoofed records from unrouted sources: summary, protocols.
    UnroutedNonspoofed,
}

impl Mode {
    /// Every mode, in documentation order.
    pub const ALL: [Mode; 4] = [
        Mode::Unfiltered,
        Mode::UnfilteredIpmeta,
        Mode::Nonspoofed,
        Mode::UnroutedNonspoofed,
    ];

    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Unfiltered => "unfiltered",
            Mode::UnfilteredIpmeta => "unfiltered-ipmeta",
            Mode::Nonspoofed => "nonspoofed",
            Mode::UnroutedNonspoofed => "unrouted-nonspoofed",
        }
    }

    /// The record filter.
    pub(crate) fn filter(self) -> Filter {
        match self {
            Mode::Unfiltered | Mode::UnfilteredIpmeta => Filter::All,
            Mode::Nonspoofed => Filter::NonSpoofed,
            Mode::UnroutedNonspoofed => Filter::UnroutedNonSpoofed,
        }
    }

    /// True when only popular ports make port series.
    pub(crate) fn popular_ports_only(self) -> bool {
        self == Mode::Nonspoofed
    }

    /// The classes printed, in order.
    pub fn classes(self, geo: GeoSource) -> Vec<Class> {
        use Class::*;
        let geo_classes = geo.classes();
        match self {
            Mode::Unfiltered => vec![
                Summary,
                IpProtocol,
                TcpSrcPorts,
                TcpDstPorts,
                UdpSrcPorts,
                UdpDstPorts,
                Icmp,
            ],
            Mode::UnfilteredIpmeta => geo_classes.iter().copied().chain([Asn]).collect(),
            Mode::Nonspoofed => [Summary, IpProtocol]
                .into_iter()
                .chain(geo_classes.iter().copied())
                .chain([TcpSrcPorts, TcpDstPorts, Icmp, UdpSrcPorts, UdpDstPorts])
                .collect(),
            Mode::UnroutedNonspoofed => vec![Summary, IpProtocol],
        }
    }

    /// The fields the mode reads.
    pub(crate) fn needed_fields(self, geo: GeoSource) -> Vec<Field> {
        let mut fields = vec![
            Field::Time,
            Field::SrcIp,
            Field::DstIp,
            Field::SrcPort,
            Field::DstPort,
            Field::Protocol,
            Field::IpLen,
            Field::PacketCnt,
            Field::Prefix2Asn,
        ];
        if self.filter() != Filter::All {
            fields.extend([Field::IsSpoofed, Field::IsMasscan]);
        }
        let classes = self.classes(geo);
        if classes.contains(&Class::NetacqContinents) {
            fields.extend([Field::NetacqContinent, Field::NetacqCountry]);
        }
        if classes.contains(&Class::MaxmindContinents) {
            fields.extend([Field::MaxmindContinent, Field::MaxmindCountry]);
        }
        fields
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Mode, ParseError> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Mode::ALL.iter().map(|m| m.name()).collect();
                ParseError::UnknownMode {
                    given: s.to_string(),
                    valid: names.join(", "),
                }
            })
    }
}

/// A metric class: one family of series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// All counted records, key `overall`.
    Summary,
    /// Per IP protocol number.
    IpProtocol,
    /// Per TCP source port.
    TcpSrcPorts,
    /// Per TCP destination port.
    TcpDstPorts,
    /// Per UDP source port.
    UdpSrcPorts,
    /// Per UDP destination port.
    UdpDstPorts,
    /// Per ICMP type and code.
    Icmp,
    /// Per Net Acuity continent.
    NetacqContinents,
    /// Per Net Acuity country.
    NetacqCountries,
    /// Per MaxMind continent.
    MaxmindContinents,
    /// Per MaxMind country.
    MaxmindCountries,
    /// Per source ASN (ASN 0 left out).
    Asn,
}

impl Class {
    /// The class name in the seed output.
    pub fn name(self) -> &'static str {
        match self {
            Class::Summary => "summary",
            Class::IpProtocol => "ipprotocol",
            Class::TcpSrcPorts => "tcp_src_ports",
            Class::TcpDstPorts => "tcp_dst_ports",
            Class::UdpSrcPorts => "udp_src_ports",
            Class::UdpDstPorts => "udp_dst_ports",
            Class::Icmp => "icmp",
            Class::NetacqContinents => "netacq_continents",
            Class::NetacqCountries => "netacq_countries",
            Class::MaxmindContinents => "maxmind_continents",
            Class::MaxmindCountries => "maxmind_countries",
            Class::Asn => "asn",
        }
    }
}

/// Which geolocation tags make geo series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeoSource {
    /// Net Acuity (the default).
    #[default]
    Netacq,
    /// MaxMind.
    Maxmind,
    /// Both, Net Acuity first.
    Both,
}

impl GeoSource {
    fn classes(self) -> &'static [Class] {
        use Class::*;
        match self {
            GeoSource::Netacq => &[NetacqContinents, NetacqCountries],
            GeoSource::Maxmind => &[MaxmindContinents, MaxmindCountries],
            GeoSource::Both => &[
                NetacqContinents,
                NetacqCountries,
                MaxmindContinents,
                MaxmindCountries,
            ],
        }
    }
}

/// How unique IP addresses are counted (as corsaro's report plugin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpCounting {
    /// Distinct addresses.
    #[default]
    All,
    /// Distinct /N prefixes (1 <= N <= 32).
    PrefixAgg(u8),
    /// Only addresses whose host part within their /N equals the interval's
    /// sample index ([`sample_index`] modulo 2^(32-N)).
    Sample(u8),
}

/// The sample index of the interval starting at `time` with intervals of
/// `length` seconds: `time / length` (rounded down), before the modulo
/// 2^(32-N) that [`IpCounting::Sample`] takes. It depends only on the
/// interval's time, so a minute is sampled the same way whatever the
/// grouping or order of the files, and successive minutes walk through the
/// host parts as corsaro's index (intervals since its start) does.
pub fn sample_index(time: i64, length: u32) -> u64 {
    // Modulo 2^32, which every 2^(32-N) divides.
    time.div_euclid(i64::from(length.max(1)))
        .rem_euclid(1 << 32) as u64
}

impl IpCounting {
    /// The value counted for `ip` in the interval whose sample index is
    /// `index` (see [`sample_index`]), or `None` when the address is not
    /// sampled.
    #[inline]
    pub(crate) fn count_key(self, ip: u32, index: u64) -> Option<u32> {
        match self {
            IpCounting::All => Some(ip),
            IpCounting::PrefixAgg(n) => Some(((u64::from(ip)) >> (32 - u32::from(n))) as u32),
            IpCounting::Sample(n) => {
                let host_bits = 32 - u32::from(n);
                let mask = ((1u64 << host_bits) - 1) as u32;
                let index = (index & u64::from(mask)) as u32;
                (ip & mask == index).then_some(ip)
            }
        }
    }
}

impl FromStr for IpCounting {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<IpCounting, ParseError> {
        let bits = |v: &str| -> Result<u8, ParseError> {
            match v.parse::<u8>() {
                Ok(n) if (1..=32).contains(&n) => Ok(n),
                _ => Err(ParseError::PrefixLength(v.to_string())),
            }
        };
        if s == "all" {
            Ok(IpCounting::All)
        } else if let Some(n) = s.strip_prefix("prefixagg:") {
            Ok(IpCounting::PrefixAgg(bits(n)?))
        } else if let Some(n) = s.strip_prefix("sample:") {
            Ok(IpCounting::Sample(bits(n)?))
        } else {
            Err(ParseError::UnknownCounting(s.to_string()))
        }
    }
}

/// A set of ports given as ranges, e.g. `0-1024,5000,8080-8081`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSet {
    ranges: Vec<(i32, i32)>,
}

impl PortSet {
    /// True when `port` is in the set.
    #[inline]
    pub fn contains(&self, port: i32) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= port && port <= hi)
    }
}

impl FromStr for PortSet {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<PortSet, ParseError> {
        let port = |v: &str| -> Result<i32, ParseError> {
            match v.trim().parse::<u16>() {
                Ok(p) => Ok(i32::from(p)),
                Err(_) => Err(ParseError::Port(v.to_string())),
            }
        };
        let mut ranges = Vec::new();
        for item in s.split(',') {
            if item.trim().is_empty() {
                return Err(ParseError::EmptyPortItem(s.to_string()));
            }
            let (lo, hi) = match item.split_once('-') {
                Some((a, b)) => (port(a)?, port(b)?),
                None => {
                    let p = port(item)?;
                    (p, p)
                }
            };
            if lo > hi {
                return Err(ParseError::BackwardsRange(item.to_string()));
            }
            ranges.push((lo, hi));
        }
        Ok(PortSet { ranges })
    }
}

/// Port filters per port class (the report plugin's `*_port_range`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortFilters {
    /// TCP source ports kept.
    pub tcp_src: Option<PortSet>,
    /// TCP destination ports kept.
    pub tcp_dst: Option<PortSet>,
    /// UDP source ports kept.
    pub udp_src: Option<PortSet>,
    /// UDP destination ports kept.
    pub udp_dst: Option<PortSet>,
}

/// Everything that decides the series of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesOptions {
    /// The mode.
    pub mode: Mode,
    /// Geo source of the geo series.
    pub geo: GeoSource,
    /// Counting of `uniq_src_ips`.
    pub src_counting: IpCounting,
    /// Counting of `uniq_dst_ips`.
    pub dst_counting: IpCounting,
    /// Port ranges per port class.
    pub ports: PortFilters,
    /// Whose rules decide what counts and which keys print.
    pub compat: Compat,
    /// The interval length in seconds (for the sample index), at least 1.
    pub interval_length: u32,
    /// The input's layout: every file of a run has the same.
    pub input: Input,
    /// Spill an interval's working set to disk past a limit (`None`:
    /// never). The series are the same either way.
    pub spill: Option<SpillOptions>,
}

/// When and where an interval being read spills to temporary files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillOptions {
    /// Bytes the interval's items and key tables may take in memory (key
    /// tables half of it, at least 4 MiB: past that, the file fails).
    pub limit: u64,
    /// Where temporary files go (created unlinked).
    pub temp_dir: std::path::PathBuf,
}

impl SpillOptions {
    /// Checks, before anything is read, that spills could be written: the
    /// temporary directory exists, is a directory, and a temporary file
    /// can be created in it (it is created unlinked, as spills are, and
    /// closed at once). The error says which of the three failed.
    pub fn check_temp_dir(&self) -> Result<(), TempDirError> {
        let dir = &self.temp_dir;
        match std::fs::metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TempDirError::Missing(dir.clone()))
            }
            Err(e) => {
                return Err(TempDirError::Unreadable {
                    dir: dir.clone(),
                    error: plain_io(&e),
                })
            }
            Ok(m) if !m.is_dir() => return Err(TempDirError::NotADirectory(dir.clone())),
            Ok(_) => {}
        }
        tempfile::tempfile_in(dir)
            .map(drop)
            .map_err(|e| TempDirError::NotWritable {
                dir: dir.clone(),
                error: plain_io(&e),
            })
    }
}

/// An I/O error's text without the `(os error N)` suffix.
fn plain_io(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The layout of a run's input files (see [`super::flowtuple4`]). On flowtuple4 the
/// aggregator still makes the source-port classes' rows (every record with
/// source port 0); a [`super::Formatter`] made
/// [`for_flowtuple4`](super::Formatter::for_flowtuple4) leaves them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Input {
    /// corsaro3 flowtuple (v3) files.
    #[default]
    Flowtuple,
    /// ftconvert's flowtuple4 files whose `dst_net` are /`dst_net`
    /// networks (24 or 16; the files do not say which).
    Flowtuple4 {
        /// Prefix length of the destination networks, as the user states.
        dst_net: u8,
    },
}

/// Whose rules the series follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compat {
    /// The original script's: every geo tag and ASN counts, only touched
    /// keys print (the default).
    #[default]
    Script,
    /// corsaro's report plugin: only non-zero ASNs count, geo tags make
    /// keys as corsaro's table says, and every interval prints the
    /// plugin's dense keys (see [`super::Renderer`]).
    Report,
}

impl Compat {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Compat::Script => "script",
            Compat::Report => "report",
        }
    }
}

impl SeriesOptions {
    /// The defaults for `mode`: Net Acuity geo, all addresses, all ports.
    pub fn new(mode: Mode) -> SeriesOptions {
        SeriesOptions {
            mode,
            geo: GeoSource::Netacq,
            src_counting: IpCounting::All,
            dst_counting: IpCounting::All,
            ports: PortFilters::default(),
            compat: Compat::Script,
            interval_length: 60,
            input: Input::Flowtuple,
            spill: None,
        }
    }
}

#[cfg(test)]
mod tests;
