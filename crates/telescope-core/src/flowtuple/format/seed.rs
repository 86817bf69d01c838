//! The seed format: `<time> <class> <key> <counter> <value>`, one data point
//! a line, as the original tool prints.

use std::io::Write;

use super::{push_decimal, Column};
use crate::flowtuple::series::{IntervalSeries, Key};

/// Appends the interval's lines to `out`, one per counter of `columns`.
/// Each row's `<time> <class> <key> ` is formatted once and copied into its
/// lines.
pub(crate) fn serialize(
    interval: &IntervalSeries,
    columns: &[(Column, String)],
    out: &mut Vec<u8>,
) {
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
        for (column, name) in columns {
            out.extend_from_slice(&prefix);
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            push_decimal(out, column.value(&row.counters));
            out.push(b'\n');
        }
    }
}
