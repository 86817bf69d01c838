//! CSV: a header row, then one row per (interval, class, key); fields are
//! quoted only when needed (RFC 4180).

use crate::flowtuple::series::IntervalSeries;

/// The header row.
pub const HEADER: &[u8] = b"time,class,key,packets,bytes,uniq_src_ips,uniq_dst_ips,uniq_src_asns\n";

/// Appends the interval's rows to `out`.
pub fn serialize(interval: &IntervalSeries, out: &mut Vec<u8>) {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    let time = interval.time.to_string();
    for row in &interval.rows {
        let c = &row.counters;
        let fields = [
            time.clone(),
            row.class.name().to_string(),
            row.key.to_string(),
            c.packets.to_string(),
            c.bytes.to_string(),
            c.uniq_src_ips.to_string(),
            c.uniq_dst_ips.to_string(),
            c.uniq_src_asns.to_string(),
        ];
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&fields);
    }
    let _ = w.flush();
}
