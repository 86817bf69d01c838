//! Varints: the compiled cursor against the reference, at every length,
//! at the end of the data and in the middle.

use super::*;

/// Reads one varint at `pos` with both decoders: same value or error,
/// same position after.
fn check_long_at(data: &[u8], pos: usize) -> Result<i64, String> {
    let mut fast = Cursor { data, pos };
    let mut slow = reference::Cursor { data, pos };
    let got = fast.long();
    let want = slow.long();
    assert_eq!(got, want, "{data:02x?} at {pos}");
    if want.is_ok() {
        assert_eq!(fast.pos, slow.pos, "{data:02x?} at {pos}");
    }
    let mut skipper = Cursor { data, pos };
    let skipped = skipper.skip_varints(1);
    assert_eq!(skipped, want.as_ref().map(|_| ()).map_err(Clone::clone));
    if want.is_ok() {
        assert_eq!(skipper.pos, slow.pos, "skip {data:02x?} at {pos}");
    }
    want
}

/// Interesting values: 0, ±1, the extremes and both sides of every
/// power of two.
fn edge_values() -> Vec<i64> {
    let mut values = vec![0, 1, -1, i64::MAX, i64::MIN, i64::MIN + 1];
    for k in 0..63 {
        let p = 1i64 << k;
        values.extend([p, p - 1, p + 1, -p, -p + 1, -p - 1]);
    }
    values
}

#[test]
fn varints_of_every_length_at_the_end_and_in_the_middle() {
    let mut lengths = [0usize; 11];
    for v in edge_values() {
        let mut enc = Vec::new();
        zigzag(v, &mut enc);
        lengths[enc.len()] += 1;
        // Alone, ending the data: the checked path.
        assert_eq!(check_long_at(&enc, 0), Ok(v));
        for lead in 0..10 {
            // Preceded by `lead` bytes and ending the data.
            let mut data = vec![0x55u8; lead];
            data.extend(&enc);
            assert_eq!(check_long_at(&data, lead), Ok(v));
            // Followed by 0..=10 bytes of anything: the fast path as soon
            // as eight bytes remain.
            for tail in 0..=10 {
                for fill in [0x00u8, 0x80, 0xff, 0x01] {
                    let mut data = data.clone();
                    data.extend(std::iter::repeat_n(fill, tail));
                    assert_eq!(check_long_at(&data, lead), Ok(v));
                }
            }
            // Cut short: data ends early.
            for cut in 0..enc.len() {
                let data = &data[..lead + cut];
                assert!(check_long_at(data, lead).is_err());
            }
        }
    }
    assert!(lengths[1..=10].iter().all(|&n| n > 0), "{lengths:?}");
}

#[test]
fn ten_byte_varints_drop_bits_beyond_64_like_the_reference() {
    // Only the lowest bit of a tenth byte counts.
    for last in [0x00u8, 0x01, 0x02, 0x7e, 0x7f] {
        for tail in [0usize, 1, 12] {
            let mut data = vec![0xffu8; 9];
            data.push(last);
            data.extend(std::iter::repeat_n(0, tail));
            let v = check_long_at(&data, 0).unwrap();
            let want = if last & 1 == 1 { i64::MIN } else { -(1 << 62) };
            assert_eq!(v, want, "last byte {last:#x}");
        }
    }
}

#[test]
fn varints_longer_than_ten_bytes_are_errors() {
    for lead in [0usize, 3] {
        for tail in [0usize, 1, 5, 20] {
            for len in 11..=13 {
                let mut data = vec![0u8; lead];
                data.extend(std::iter::repeat_n(0x80, len - 1));
                data.push(0x00);
                data.extend(std::iter::repeat_n(0x01, tail));
                let err = check_long_at(&data, lead).unwrap_err();
                assert_eq!(
                    err,
                    format!("varint longer than 10 bytes at data offset {}", lead + 10)
                );
            }
        }
    }
    // Ten continuation bytes are too many even when the data ends there;
    // nine are data ending early.
    let err = check_long_at(&[0x80; 10], 0).unwrap_err();
    assert_eq!(err, "varint longer than 10 bytes at data offset 10");
    let err = check_long_at(&[0x80; 9], 0).unwrap_err();
    assert!(err.starts_with("record data ends early"), "{err}");
}

#[test]
fn random_varint_streams_match_the_reference() {
    let mut rng = Rng(7);
    for _ in 0..2000 {
        let mut data = Vec::new();
        let n = rng.below(6) as usize;
        for _ in 0..n {
            zigzag(rng.long(), &mut data);
        }
        // Sometimes garbage at the end.
        for _ in 0..rng.below(3) {
            data.push(rng.next_u64() as u8);
        }
        let mut fast = Cursor {
            data: &data,
            pos: 0,
        };
        let mut slow = reference::Cursor {
            data: &data,
            pos: 0,
        };
        let mut skipper = Cursor {
            data: &data,
            pos: 0,
        };
        loop {
            let want = slow.long();
            assert_eq!(fast.long(), want, "{data:02x?}");
            assert_eq!(
                skipper.skip_varints(1),
                want.as_ref().map(|_| ()).map_err(Clone::clone)
            );
            if want.is_err() {
                break;
            }
            assert_eq!(fast.pos, slow.pos);
            assert_eq!(skipper.pos, slow.pos);
        }
    }
}
