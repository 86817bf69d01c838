//! The libtimeseries ASCII format (Graphite plaintext): `<key> <value>
//! <time>`, keys built as corsaro's report plugin builds them.

use super::{push_decimal, Column};
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

/// Calls `f(key, value)` for each data point of the interval, in output
/// order, one per counter of `columns` (the ASN class has no
/// `uniq_src_asn`): exactly the keys and values that [`serialize`] prints
/// (and the TSK format sends). Stops at the first error `f` returns.
pub(crate) fn try_for_each_point<E>(
    interval: &IntervalSeries,
    label: &str,
    columns: &[(Column, String)],
    mut f: impl FnMut(&str, i128) -> Result<(), E>,
) -> Result<(), E> {
    let mut key = String::new();
    for row in &interval.rows {
        key.clear();
        key.push_str(label);
        key.push('.');
        key.push_str(&path(row));
        key.push('.');
        let base = key.len();
        for (column, name) in columns {
            if *column == Column::SrcAsns && row.class == Class::Asn {
                continue;
            }
            key.truncate(base);
            key.push_str(name);
            f(&key, column.value(&row.counters))?;
        }
    }
    Ok(())
}

/// Appends one line, `<key> <value> <time>`.
pub(crate) fn push_line(out: &mut Vec<u8>, key: &str, value: i128, time: i64) {
    out.extend_from_slice(key.as_bytes());
    out.push(b' ');
    push_decimal(out, value);
    out.push(b' ');
    push_decimal(out, time.into());
    out.push(b'\n');
}

/// Appends the interval's lines to `out`, one per counter of `columns`.
pub(crate) fn serialize(
    interval: &IntervalSeries,
    label: &str,
    columns: &[(Column, String)],
    out: &mut Vec<u8>,
) {
    let t = interval.time;
    let _ = try_for_each_point(interval, label, columns, |key, value| {
        push_line(out, key, value, t);
        Ok::<(), std::convert::Infallible>(())
    });
}
