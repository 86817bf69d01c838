//! flowtuple4 (stardust-tools `ftconvert`): what its records can give
//! exactly, and how they become the records the aggregator counts.
//!
//! A flowtuple4 record stands for the v3 records of one key: (`src_ip`,
//! destination network `dst_net`, `dst_port`) per protocol, where ICMP puts
//! `type << 8 | code` in `dst_port` and protocols other than TCP, UDP and
//! ICMP write `dst_port` 0. It carries `packet_cnt` (their sum) and the geo
//! tags and `prefix2asn` of the key's first v3 record. So, over the records
//! of any series whose membership depends only on the protocol, the
//! destination port, the ICMP type and code, the geo tags or the ASN:
//! - `packets` is exact (a sum of sums);
//! - `uniq_src_ips` is exact for `all`, `prefixagg:N` and `sample:N` (the
//!   source is in the key);
//! - `uniq_src_asns` is exact whenever all records of one source carry one
//!   ASN (real v3 files tag by source address), except under report rules
//!   with `prefixagg` sources, where the ASN counted is that of the first
//!   record of an aggregate in v3 order, which ftconvert does not keep;
//! - destinations are known only as distinct `dst_net` networks (/24 or /16,
//!   which the file does not record: the user states it), or coarser;
//! - source ports, packet sizes (`bytes`) and the spoofing/masscan flags of
//!   single v3 records are gone: the source-port classes, `bytes` and the
//!   `nonspoofed` modes cannot be exact and are not offered.

use super::decode::DecodedBlock;
use super::error::BadRecord;
use super::options::{Class, Compat, GeoSource, Input, IpCounting, Mode, SeriesOptions};
use super::schema::Field;

/// The classes of `mode` that flowtuple4 gives exactly: all but the
/// source-port classes.
pub fn classes(mode: Mode, geo: GeoSource) -> Vec<Class> {
    mode.classes(geo)
        .into_iter()
        .filter(|c| !matches!(c, Class::TcpSrcPorts | Class::UdpSrcPorts))
        .collect()
}

/// The flowtuple4 fields `mode` reads.
pub(crate) fn needed_fields(mode: Mode, geo: GeoSource) -> Vec<Field> {
    mode.needed_fields(geo)
        .into_iter()
        .filter_map(|f| match f {
            Field::DstIp => Some(Field::DstNet),
            Field::SrcPort | Field::IpLen | Field::IsSpoofed | Field::IsMasscan => None,
            f => Some(f),
        })
        .collect()
}

/// Why a run's options cannot be computed exactly from flowtuple4 files
/// (see [`unsupported`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// The mode counts records by the spoofing and masscan flags that
    /// flowtuple4 records do not keep.
    #[error(
        "mode {0} is not available on flowtuple4: it counts the v3 records with \
         is_spoofed == 0 or is_masscan == 1, and a flowtuple4 record stands for \
         several v3 records whose flags are gone (version 2 files keep only \
         per-record packet sums, spoofed_packet_cnt and masscan_packet_cnt; \
         version 1 nothing), so which sources, ASNs and destinations pass the \
         filter cannot be known; use unfiltered or unfiltered-ipmeta"
    )]
    Mode(Mode),
    /// Destinations counted by prefixes finer than the files' networks.
    #[error(
        "destination counting prefixagg:{prefix} is finer than the /{dst_net} networks \
         a flowtuple4 file holds (use prefixagg:N with N <= {dst_net})"
    )]
    DstPrefixTooFine {
        /// The prefix length asked for.
        prefix: u8,
        /// The files' networks' prefix length.
        dst_net: u8,
    },
    /// Destinations sampled: that needs their addresses.
    #[error(
        "destination counting sample:N is not available on flowtuple4: it needs \
         the destination addresses, and flowtuple4 keeps only their /24 or /16 \
         network (use all or prefixagg:N)"
    )]
    DstSample,
    /// Report rules with `prefixagg` sources: the ASN counted is that of
    /// the first v3 record of each source prefix, whose order ftconvert
    /// does not keep.
    #[error(
        "report rules with prefixagg:N source counting are not available on \
         flowtuple4: the report plugin counts the ASN of the first v3 record of each \
         newly counted source prefix, and ftconvert does not keep the order of v3 \
         records (use the script's rules, or all or sample:N sources)"
    )]
    ReportSourcePrefixes,
}

/// Why `options` cannot be computed exactly from flowtuple4, if so
/// (`None` for flowtuple v3 input).
///
/// ```
/// use telescope_core::flowtuple::flowtuple4::{unsupported, Unsupported};
/// use telescope_core::flowtuple::{Input, IpCounting, Mode, SeriesOptions};
///
/// let mut options = SeriesOptions {
///     input: Input::Flowtuple4 { dst_net: 24 },
///     ..SeriesOptions::new(Mode::Unfiltered)
/// };
/// assert_eq!(unsupported(&options), None);
/// options.dst_counting = IpCounting::PrefixAgg(28);
/// assert_eq!(
///     unsupported(&options),
///     Some(Unsupported::DstPrefixTooFine { prefix: 28, dst_net: 24 })
/// );
/// ```
pub fn unsupported(options: &SeriesOptions) -> Option<Unsupported> {
    let Input::Flowtuple4 { dst_net } = options.input else {
        return None;
    };
    if matches!(options.mode, Mode::Nonspoofed | Mode::UnroutedNonspoofed) {
        return Some(Unsupported::Mode(options.mode));
    }
    match options.dst_counting {
        IpCounting::All => {}
        IpCounting::PrefixAgg(n) if n <= dst_net => {}
        IpCounting::PrefixAgg(prefix) => {
            return Some(Unsupported::DstPrefixTooFine { prefix, dst_net })
        }
        IpCounting::Sample(_) => return Some(Unsupported::DstSample),
    }
    if options.compat == Compat::Report && matches!(options.src_counting, IpCounting::PrefixAgg(_))
    {
        return Some(Unsupported::ReportSourcePrefixes);
    }
    None
}

/// The prefix length of the destination networks counted under `options`
/// on flowtuple4 (`None` for flowtuple v3 input).
pub fn counted_dst_prefix(options: &SeriesOptions) -> Option<u8> {
    match (options.input, options.dst_counting) {
        (Input::Flowtuple, _) => None,
        (Input::Flowtuple4 { .. }, IpCounting::PrefixAgg(n)) => Some(n),
        (Input::Flowtuple4 { dst_net }, _) => Some(dst_net),
    }
}

/// Turns a block of decoded flowtuple4 records (every record kept, `dst_net`
/// in `dst_ip`, the raw `dst_port`) into what the aggregator counts: ICMP's
/// `dst_port` split into type (`src_port`) and code (`dst_port`); no source
/// port, packet size or flags (never printed). Checks `dst_net` against the
/// stated aggregation (`None`: only that the last octet is 0). The error
/// names the record within the block.
pub(crate) fn finish_block(block: &mut DecodedBlock, dst_net: Option<u8>) -> Result<(), BadRecord> {
    for (record, rec) in block.records.iter_mut().enumerate() {
        let net = std::net::Ipv4Addr::from(rec.dst_ip);
        if rec.dst_ip & 0xff != 0 {
            return Err(BadRecord::NotANetwork { record, net });
        }
        if dst_net == Some(16) && rec.dst_ip & 0xff00 != 0 {
            return Err(BadRecord::NotSlash16 { record, net });
        }
        if !(0..=0xffff).contains(&rec.dst_port) {
            return Err(BadRecord::PortNot16Bit {
                record,
                port: rec.dst_port,
            });
        }
        if rec.protocol == 1 {
            rec.src_port = rec.dst_port >> 8;
            rec.dst_port &= 0xff;
        } else {
            rec.src_port = 0;
        }
        rec.ip_len = 0;
        rec.is_spoofed = 0;
        rec.is_masscan = 0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowtuple::record::FlowRecord;

    fn block(recs: &[(u32, i32, i32)]) -> DecodedBlock {
        DecodedBlock {
            runs: Vec::new(),
            records: recs
                .iter()
                .map(|&(net, proto, port)| FlowRecord {
                    dst_ip: net,
                    protocol: proto,
                    dst_port: port,
                    ip_len: 60,
                    src_port: 7,
                    ..FlowRecord::default()
                })
                .collect(),
            total: recs.len() as u64,
        }
    }

    #[test]
    fn icmp_ports_split_and_others_lose_source_ports() {
        let mut b = block(&[(0x2c01_0200, 1, 3 << 8 | 13), (0x2c01_0000, 6, 443)]);
        finish_block(&mut b, Some(24)).unwrap();
        let r = &b.records;
        assert_eq!((r[0].src_port, r[0].dst_port, r[0].ip_len), (3, 13, 0));
        assert_eq!((r[1].src_port, r[1].dst_port, r[1].ip_len), (0, 443, 0));
    }

    #[test]
    fn networks_contradicting_the_stated_aggregation_are_refused() {
        let mut b = block(&[(0x2c01_0000, 6, 1), (0x2c01_0200, 6, 1)]);
        let e = finish_block(&mut b, Some(16)).unwrap_err().to_string();
        assert!(
            e.starts_with("record 1: dst_net 44.1.2.0 has a nonzero third octet"),
            "{e}"
        );
        assert!(finish_block(&mut block(&[(0x2c01_0200, 6, 1)]), Some(24)).is_ok());
        assert!(finish_block(&mut block(&[(0x2c01_0200, 6, 1)]), None).is_ok());
        let e = finish_block(&mut block(&[(0x2c01_0201, 6, 1)]), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("44.1.2.1 has a nonzero last octet"), "{e}");
        let e = finish_block(&mut block(&[(0x2c01_0200, 1, 65536)]), Some(24))
            .unwrap_err()
            .to_string();
        assert!(e.contains("dst_port 65536 is not a 16-bit value"), "{e}");
    }

    #[test]
    fn only_exact_options_are_offered() {
        let ft4 = |mode| SeriesOptions {
            input: Input::Flowtuple4 { dst_net: 24 },
            ..SeriesOptions::new(mode)
        };
        assert!(unsupported(&ft4(Mode::Unfiltered)).is_none());
        assert!(unsupported(&ft4(Mode::UnfilteredIpmeta)).is_none());
        for m in [Mode::Nonspoofed, Mode::UnroutedNonspoofed] {
            let why = unsupported(&ft4(m)).unwrap().to_string();
            assert!(why.contains("is_spoofed"), "{why}");
            assert!(unsupported(&SeriesOptions::new(m)).is_none());
        }
        let with = |f: &dyn Fn(&mut SeriesOptions)| {
            let mut o = ft4(Mode::Unfiltered);
            f(&mut o);
            unsupported(&o)
        };
        assert!(with(&|o| o.dst_counting = IpCounting::PrefixAgg(24)).is_none());
        assert!(with(&|o| o.dst_counting = IpCounting::PrefixAgg(16)).is_none());
        assert!(with(&|o| o.dst_counting = IpCounting::PrefixAgg(25)).is_some());
        assert!(with(&|o| o.dst_counting = IpCounting::Sample(24)).is_some());
        assert!(with(&|o| o.src_counting = IpCounting::Sample(24)).is_none());
        assert!(with(&|o| {
            o.compat = Compat::Report;
            o.src_counting = IpCounting::PrefixAgg(24)
        })
        .is_some());
        assert!(with(&|o| o.compat = Compat::Report).is_none());
        assert_eq!(
            classes(Mode::Unfiltered, GeoSource::Netacq)
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>(),
            [
                "summary",
                "ipprotocol",
                "tcp_dst_ports",
                "udp_dst_ports",
                "icmp"
            ]
        );
    }
}
