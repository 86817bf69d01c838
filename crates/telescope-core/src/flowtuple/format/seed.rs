//! The seed format: `<time> <class> <key> <counter> <value>`, one data point
//! a line, as the original tool prints.

use std::io::Write;

use super::push_decimal;
use crate::flowtuple::series::{IntervalSeries, Key};

/// Counter names, in print order.
pub const COUNTERS: [&str; 5] = [
    "packets",
    "bytes",
    "uniq_src_ips",
    "uniq_dst_ips",
    "uniq_src_asns",
];

/// Appends the interval's lines to `out`. Each row's `<time> <class> <key> `
/// is formatted once and copied into its five lines.
pub fn serialize(interval: &IntervalSeries, out: &mut Vec<u8>) {
    let mut time = Vec::new();
    push_decimal(&mut time, i128::from(interval.time));
    let mut prefix = Vec::new();
    for row in &interval.rows {
        prefix.clear();
        prefix.extend_from_slice(&time);
        prefix.push(b' ');
        prefix.extend_from_slice(row.class.name().as_bytes());
        prefix.push(b' ');
        match row.key {
            Key::Number(n) => push_decimal(&mut prefix, i128::from(n)),
            // Writing to a Vec cannot fail.
            key => {
                let _ = write!(prefix, "{key}");
            }
        }
        prefix.push(b' ');
        let c = &row.counters;
        let values = [
            c.packets,
            c.bytes,
            i128::from(c.uniq_src_ips),
            i128::from(c.uniq_dst_ips),
            i128::from(c.uniq_src_asns),
        ];
        for (name, value) in COUNTERS.iter().zip(values) {
            out.extend_from_slice(&prefix);
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            push_decimal(out, value);
            out.push(b'\n');
        }
    }
}
