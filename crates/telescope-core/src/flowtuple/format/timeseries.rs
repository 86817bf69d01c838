//! The libtimeseries ASCII format (Graphite plaintext): `<key> <value>
//! <time>`, keys built as corsaro's report plugin builds them.

use std::io::Write;

use super::Column;
use crate::flowtuple::options::Class;
use crate::flowtuple::series::{IntervalSeries, Key, SeriesRow};

/// The series path of a row, without label and counter.
fn path(row: &SeriesRow) -> String {
    let cont = row.continent.map(|c| c.to_string()).unwrap_or_default();
    match (row.class, row.key) {
        (Class::Summary, _) => "overall".to_string(),
        (Class::IpProtocol, k) => format!("traffic.protocol.{k}"),
        (Class::Icmp, Key::Icmp(t, c)) => format!("traffic.icmp.type.{t}.code.{c}"),
        (Class::TcpSrcPorts, k) => format!("traffic.port.tcp.src_port.{k}"),
        (Class::TcpDstPorts, k) => format!("traffic.port.tcp.dst_port.{k}"),
        (Class::UdpSrcPorts, k) => format!("traffic.port.udp.src_port.{k}"),
        (Class::UdpDstPorts, k) => format!("traffic.port.udp.dst_port.{k}"),
        (Class::NetacqContinents, k) => format!("geo.netacuity.{k}"),
        (Class::NetacqCountries, k) => format!("geo.netacuity.{cont}.{k}"),
        (Class::MaxmindContinents, k) => format!("geo.maxmind.{k}"),
        (Class::MaxmindCountries, k) => format!("geo.maxmind.{cont}.{k}"),
        (Class::Asn, k) => format!("routing.asn.{k}"),
        (Class::Icmp, k) => format!("traffic.icmp.{k}"),
    }
}

/// Appends the interval's lines to `out`, one per counter of `columns`
/// (the ASN class has no `uniq_src_asn`).
pub fn serialize(
    interval: &IntervalSeries,
    label: &str,
    columns: &[(Column, String)],
    out: &mut Vec<u8>,
) {
    let t = interval.time;
    for row in &interval.rows {
        let p = path(row);
        for (column, name) in columns {
            if *column == Column::SrcAsns && row.class == Class::Asn {
                continue;
            }
            let _ = writeln!(
                out,
                "{label}.{p}.{name} {} {t}",
                column.value(&row.counters)
            );
        }
    }
}
