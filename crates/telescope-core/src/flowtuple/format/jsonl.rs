//! JSON lines: one object per (interval, class, key) with every counter.

use std::io::Write;

use crate::flowtuple::series::IntervalSeries;

/// Appends the interval's objects to `out`.
pub fn serialize(interval: &IntervalSeries, out: &mut Vec<u8>) {
    for row in &interval.rows {
        let c = &row.counters;
        let key = serde_json::Value::String(row.key.to_string());
        let _ = writeln!(
            out,
            "{{\"time\":{},\"class\":\"{}\",\"key\":{key},\"packets\":{},\"bytes\":{},\"uniq_src_ips\":{},\"uniq_dst_ips\":{},\"uniq_src_asns\":{}}}",
            interval.time,
            row.class.name(),
            c.packets,
            c.bytes,
            c.uniq_src_ips,
            c.uniq_dst_ips,
            c.uniq_src_asns
        );
    }
}
