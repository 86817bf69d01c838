//! Geo tags read by the compiled cursor against `GeoTag::from_bytes`, of
//! every byte at every place.

use super::*;

/// Reads a tag encoded at `lead` with `tail` after it with
/// [`Cursor::tag`], and checks it against [`GeoTag::from_bytes`].
fn check_tag(raw: &[u8], lead: usize, tail: &[u8]) {
    let mut data = vec![b'x'; lead];
    zigzag(raw.len() as i64, &mut data);
    let start = data.len();
    data.extend(raw);
    data.extend(tail);
    let cur = Cursor {
        data: &data,
        pos: lead,
    };
    let want = GeoTag::from_bytes(raw).ok_or_else(|| {
        format!(
            "netacq_country is {} bytes long; geo tags are at most 16",
            raw.len()
        )
    });
    match cur.tag(Field::NetacqCountry) {
        Ok((tag, after)) => {
            assert_eq!(Ok(tag), want, "{raw:02x?} + {tail:02x?}");
            assert_eq!(after.pos, start + raw.len());
        }
        Err(e) => assert_eq!(Err(e), want, "{raw:02x?} + {tail:02x?}"),
    }
}

#[test]
fn tags_match_from_bytes() {
    let tails: [&[u8]; 4] = [&[], &[b'A'; 3], &[0xff; 20], &[b'Z'; 40]];
    for lead in [0, 5] {
        for tail in tails {
            check_tag(b"", lead, tail);
            for b0 in 0..=255u8 {
                check_tag(&[b0], lead, tail);
                for b1 in 0..=255u8 {
                    check_tag(&[b0, b1], lead, tail);
                }
            }
        }
    }
    let alphabet = b"AZaz09!~?./;- \xc2\xa0\xe3\x80\x80\x00\x01\x7f\x80\xc3\xa9\xe2\x82\xac\xff";
    let mut rng = Rng(5);
    for _ in 0..20_000 {
        let n = rng.below(19) as usize;
        let raw: Vec<u8> = if rng.below(3) == 0 {
            (0..n).map(|_| b'!' + rng.below(94) as u8).collect()
        } else {
            (0..n)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect()
        };
        let tail = tails[rng.below(4) as usize];
        check_tag(&raw, rng.below(3) as usize, tail);
    }
    // Data ending inside the tag.
    let cur = Cursor {
        data: &[4, b'E'],
        pos: 0,
    };
    assert_eq!(cur.tag(Field::NetacqCountry).err(), Some(eof()));
}

#[test]
fn tag_byte_check_of_every_byte_at_every_place() {
    for n in 1..=16 {
        let keep = u128::MAX >> (8 * (16 - n));
        for at in 0..16 {
            for b in 0..=255u8 {
                let mut bytes = [b'A'; 16];
                bytes[at] = b;
                let x = u128::from_le_bytes(bytes) & keep;
                let want = at >= n || ((0x21..=0x7e).contains(&b) && !b".;/".contains(&b));
                assert_eq!(all_tag_bytes(x, keep), want, "{n} {at} {b:#x}");
            }
        }
    }
}
