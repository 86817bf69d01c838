//! JSON lines: one object per (interval, class, key) with every counter.

use std::io::Write;

use super::Column;
use crate::flowtuple::series::IntervalSeries;

/// Appends the interval's objects to `out`.
pub(crate) fn serialize(
    interval: &IntervalSeries,
    columns: &[(Column, String)],
    out: &mut Vec<u8>,
) {
    for row in &interval.rows {
        let key = serde_json::Value::String(row.key.to_string());
        let _ = write!(
            out,
            "{{\"time\":{},\"class\":\"{}\",\"key\":{key}",
            interval.time,
            row.class.name(),
        );
        for (column, name) in columns {
            let _ = write!(out, ",\"{name}\":{}", column.value(&row.counters));
        }
        out.extend_from_slice(b"}\n");
    }
}
