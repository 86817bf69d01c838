//! The seed format: `<time> <class> <key> <counter> <value>`, one data point
//! a line, as the original tool prints.

use std::io::Write;

use crate::flowtuple::series::IntervalSeries;

/// Counter names, in print order.
pub const COUNTERS: [&str; 5] = [
    "packets",
    "bytes",
    "uniq_src_ips",
    "uniq_dst_ips",
    "uniq_src_asns",
];

/// Appends the interval's lines to `out`.
pub fn serialize(interval: &IntervalSeries, out: &mut Vec<u8>) {
    for row in &interval.rows {
        let c = &row.counters;
        let values: [&dyn std::fmt::Display; 5] = [
            &c.packets,
            &c.bytes,
            &c.uniq_src_ips,
            &c.uniq_dst_ips,
            &c.uniq_src_asns,
        ];
        for (name, value) in COUNTERS.iter().zip(values) {
            // Writing to a Vec cannot fail.
            let _ = writeln!(
                out,
                "{} {} {} {name} {value}",
                interval.time,
                row.class.name(),
                row.key
            );
        }
    }
}
