//! Intervals and keys: ports and ASN keys, intervals in order, an empty
//! interval, key tables reused across intervals.

use super::*;

#[test]
fn negative_and_wide_ports_are_exact_and_ordered() {
    let big = u32::MAX;
    let records = vec![
        rec(10, 1, 100, -5, 80, 7),
        rec(10, 2, 100, -5, 80, big),
        rec(10, 1, 101, 70_000, 80, big),
        rec(10, 3, 102, 0, 80, 7),
    ];
    for threads in [1, 2] {
        let out = run_all(Mode::Unfiltered, vec![block(records.clone())], threads).unwrap();
        assert_eq!(out.len(), 1);
        let iv = &out[0];
        let src_keys = class_keys(iv, Class::TcpSrcPorts);
        assert_eq!(
            src_keys,
            vec![Key::Number(-5), Key::Number(0), Key::Number(70_000)]
        );
        let c = find(iv, Class::TcpSrcPorts, Key::Number(-5));
        assert_eq!(c.tuple(), (4, 160, 2, 1, 2));
        let c = find(iv, Class::TcpDstPorts, Key::Number(80));
        assert_eq!(c.tuple(), (8, 320, 3, 3, 2));
        let c = find(iv, Class::Summary, Key::Overall);
        assert_eq!(c.tuple(), (8, 320, 3, 3, 2));
    }
}

#[test]
fn asn_class_keys_span_32_bits_and_skip_zero() {
    let records = vec![
        rec(10, 1, 100, 1, 2, 0),
        rec(10, 1, 100, 1, 2, u32::MAX),
        rec(10, 2, 100, 1, 2, 64_512),
    ];
    let out = run_all(Mode::UnfilteredIpmeta, vec![block(records)], 1).unwrap();
    let keys = class_keys(&out[0], Class::Asn);
    assert_eq!(
        keys,
        vec![Key::Number(64_512), Key::Number(i64::from(u32::MAX))]
    );
}

#[test]
fn intervals_close_in_order_and_a_reappearing_time_is_an_error() {
    let a = block(vec![
        rec(20, 1, 1, 1, 1, 1),
        rec(20, 2, 1, 1, 1, 1),
        rec(0, 3, 1, 1, 1, 1),
    ]);
    let b = block(vec![rec(0, 4, 1, 1, 1, 1), rec(30, 5, 1, 1, 1, 1)]);
    let out = run_all(Mode::Unfiltered, vec![a, b], 1).unwrap();
    let times: Vec<i64> = out.iter().map(|iv| iv.time).collect();
    assert_eq!(
        times,
        vec![20, 0, 30],
        "file order, 0 is ordinary, a run may span blocks"
    );
    assert_eq!(find(&out[1], Class::Summary, Key::Overall).uniq_src_ips, 2);
    let c = block(vec![
        rec(20, 1, 1, 1, 1, 1),
        rec(30, 1, 1, 1, 1, 1),
        rec(20, 1, 1, 1, 1, 1),
    ]);
    match run_all(Mode::Unfiltered, vec![c], 1) {
        Err(FlowtupleError::IntervalReappears { time: 20, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_interval_with_nothing_counted_prints_a_zero_summary() {
    let mut b = block(vec![rec(10, 1, 1, 1, 1, 1)]);
    b.records.clear();
    b.runs[0].kept = 0;
    let out = run_all(Mode::Nonspoofed, vec![b], 1).unwrap();
    assert_eq!(out[0].rows.len(), 1);
    assert_eq!(out[0].rows[0].class, Class::Summary);
    assert_eq!(out[0].rows[0].counters, Counters::default());
}

/// Direct ASN tables are reused by the next interval (and run) on a
/// thread: ids of the interval before must not leak into it.
#[test]
fn reused_key_tables_start_empty() {
    let asn_rows = |iv: &IntervalSeries| -> Vec<(Key, u64)> {
        iv.rows
            .iter()
            .filter(|r| r.class == Class::Asn)
            .map(|r| (r.key, r.counters.uniq_src_ips))
            .collect()
    };
    for _ in 0..3 {
        let records = vec![
            rec(0, 1, 9, 1, 2, 5),
            rec(0, 2, 9, 1, 2, 6),
            rec(60, 3, 9, 1, 2, 7),
            rec(60, 4, 9, 1, 2, 6),
            rec(60, 5, 9, 1, 2, 7),
        ];
        let out = run_all(Mode::UnfilteredIpmeta, vec![block(records)], 1).unwrap();
        assert_eq!(
            asn_rows(&out[0]),
            vec![(Key::Number(5), 1), (Key::Number(6), 1)]
        );
        assert_eq!(
            asn_rows(&out[1]),
            vec![(Key::Number(6), 1), (Key::Number(7), 2)]
        );
    }
}
