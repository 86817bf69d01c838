//! CSV: a header row, then one row per (interval, class, key); fields are
//! quoted only when needed (RFC 4180).

use super::Column;
use crate::flowtuple::series::IntervalSeries;

/// The header row: `time,class,key` and the counters' names.
pub(crate) fn header(columns: &[(Column, String)]) -> Vec<u8> {
    let mut h = b"time,class,key".to_vec();
    for (_, name) in columns {
        h.push(b',');
        h.extend_from_slice(name.as_bytes());
    }
    h.push(b'\n');
    h
}

/// Appends the interval's rows to `out`.
pub(crate) fn serialize(
    interval: &IntervalSeries,
    columns: &[(Column, String)],
    out: &mut Vec<u8>,
) {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    let time = interval.time.to_string();
    for row in &interval.rows {
        let mut fields = vec![
            time.clone(),
            row.class.name().to_string(),
            row.key.to_string(),
        ];
        fields.extend(
            columns
                .iter()
                .map(|(c, _)| c.value(&row.counters).to_string()),
        );
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&fields);
    }
    let _ = w.flush();
}
