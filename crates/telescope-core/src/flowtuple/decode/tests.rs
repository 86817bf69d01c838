//! The compiled decoder against the straightforward reference decoder.

use super::*;
use crate::flowtuple::record::GeoTag;
use telescope_test_support::avro::zigzag;
use telescope_test_support::rng::{Random, SplitMix64 as Rng};

/// The straightforward decoder the compiled one replaced, kept as the
/// reference the fast paths are checked against.
mod reference {
    use super::{DecodedBlock, Field, Filter, Plan, Run, Skip, Step};
    use crate::flowtuple::record::{FlowRecord, GeoTag, MAX_TAG_BYTES};

    pub struct Cursor<'a> {
        pub data: &'a [u8],
        pub pos: usize,
    }

    impl<'a> Cursor<'a> {
        pub fn long(&mut self) -> Result<i64, String> {
            let mut value: u64 = 0;
            let mut shift = 0;
            loop {
                let Some(&b) = self.data.get(self.pos) else {
                    return Err(self.eof());
                };
                self.pos += 1;
                value |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
                }
                shift += 7;
                if shift > 63 {
                    return Err(format!(
                        "varint longer than 10 bytes at data offset {}",
                        self.pos
                    ));
                }
            }
        }

        fn bytes(&mut self, len: usize) -> Result<&'a [u8], String> {
            let end = self.pos.checked_add(len).filter(|&e| e <= self.data.len());
            let Some(end) = end else {
                return Err(self.eof());
            };
            let out = &self.data[self.pos..end];
            self.pos = end;
            Ok(out)
        }

        fn length(&mut self) -> Result<usize, String> {
            let len = self.long()?;
            usize::try_from(len).map_err(|_| format!("negative length {len}"))
        }

        fn eof(&self) -> String {
            "record data ends early (corrupt block or wrong record count)".to_string()
        }

        fn skip(&mut self, skip: &Skip) -> Result<(), String> {
            match skip {
                Skip::Nothing => {}
                Skip::Varint => {
                    self.long()?;
                }
                Skip::Bytes(n) => {
                    self.bytes(*n)?;
                }
                Skip::LengthPrefixed => {
                    let n = self.length()?;
                    self.bytes(n)?;
                }
                Skip::Array(item) => self.skip_blocks(|c| c.skip(item))?,
                Skip::Map(value) => self.skip_blocks(|c| {
                    let n = c.length()?;
                    c.bytes(n)?;
                    c.skip(value)
                })?,
                Skip::Union(branches) => {
                    let i = self.long()?;
                    let branch = usize::try_from(i)
                        .ok()
                        .and_then(|i| branches.get(i))
                        .ok_or_else(|| format!("union branch {i} does not exist"))?;
                    self.skip(branch)?;
                }
                Skip::Record(fields) => {
                    for f in fields {
                        self.skip(f)?;
                    }
                }
            }
            Ok(())
        }

        fn skip_blocks(
            &mut self,
            mut item: impl FnMut(&mut Self) -> Result<(), String>,
        ) -> Result<(), String> {
            loop {
                let mut n = self.long()?;
                if n == 0 {
                    return Ok(());
                }
                if n < 0 {
                    n = n.checked_neg().ok_or("bad item count")?;
                    self.long()?;
                }
                for _ in 0..n {
                    item(self)?;
                }
            }
        }
    }

    fn int32(field: Field, v: i64) -> Result<i32, String> {
        i32::try_from(v).map_err(|_| format!("{} value {v} is outside the int range", field.name()))
    }

    fn ipv4(field: Field, v: i64) -> Result<u32, String> {
        u32::try_from(v).map_err(|_| format!("{} value {v} is not an IPv4 address", field.name()))
    }

    fn decode_record(
        plan: &Plan,
        cur: &mut Cursor<'_>,
        rec: &mut FlowRecord,
    ) -> Result<(), String> {
        for step in &plan.steps {
            match step {
                Step::Number(field) => {
                    let v = cur.long()?;
                    match field {
                        Field::Time => rec.time = v,
                        Field::PacketCnt => rec.packet_cnt = v,
                        Field::Prefix2Asn => {
                            rec.prefix2asn = u32::try_from(v).map_err(|_| {
                                format!("prefix2asn value {v} is not a 32-bit AS number")
                            })?
                        }
                        Field::SrcIp => rec.src_ip = ipv4(*field, v)?,
                        Field::DstIp => rec.dst_ip = ipv4(*field, v)?,
                        Field::SrcPort => rec.src_port = int32(*field, v)?,
                        Field::DstPort => rec.dst_port = int32(*field, v)?,
                        Field::Protocol => rec.protocol = int32(*field, v)?,
                        Field::IpLen => rec.ip_len = int32(*field, v)?,
                        Field::IsSpoofed => rec.is_spoofed = int32(*field, v)?,
                        Field::IsMasscan => rec.is_masscan = int32(*field, v)?,
                        _ => {}
                    }
                }
                Step::Text(field) => {
                    let n = cur.length()?;
                    let raw = cur.bytes(n)?;
                    let tag = GeoTag::from_bytes(raw).ok_or_else(|| {
                        format!(
                            "{} is {n} bytes long; geo tags are at most {MAX_TAG_BYTES}",
                            field.name()
                        )
                    })?;
                    match field {
                        Field::NetacqContinent => rec.netacq[0] = tag,
                        Field::NetacqCountry => rec.netacq[1] = tag,
                        Field::MaxmindContinent => rec.maxmind[0] = tag,
                        Field::MaxmindCountry => rec.maxmind[1] = tag,
                        _ => {}
                    }
                }
                Step::Skip(skip) => cur.skip(skip)?,
            }
        }
        Ok(())
    }

    pub fn decode_block(
        plan: &Plan,
        filter: Filter,
        data: &[u8],
        count: u64,
        out: &mut DecodedBlock,
    ) -> Result<(), String> {
        out.runs.clear();
        out.records.clear();
        out.total = count;
        let mut cur = Cursor { data, pos: 0 };
        let mut rec = FlowRecord::default();
        for i in 0..count {
            decode_record(plan, &mut cur, &mut rec)
                .map_err(|e| format!("record {i} of the block: {e}"))?;
            match out.runs.last_mut() {
                Some(run) if run.time == rec.time => {}
                _ => out.runs.push(Run {
                    time: rec.time,
                    kept: 0,
                }),
            }
            if filter.keeps(&rec) {
                out.records.push(rec);
                if let Some(run) = out.runs.last_mut() {
                    run.kept += 1;
                }
            }
        }
        if cur.pos != data.len() {
            return Err(format!(
                "{} bytes left over after the block's {count} records",
                data.len() - cur.pos
            ));
        }
        Ok(())
    }
}

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

/// A value of `skip`'s type, encoded.
fn encode_skip(skip: &Skip, rng: &mut Rng, out: &mut Vec<u8>) {
    match skip {
        Skip::Nothing => {}
        Skip::Varint => zigzag(rng.long(), out),
        Skip::Bytes(n) => out.extend((0..*n).map(|_| rng.next_u64() as u8)),
        Skip::LengthPrefixed => {
            let n = rng.below(20) as usize;
            zigzag(n as i64, out);
            out.extend((0..n).map(|_| rng.next_u64() as u8));
        }
        Skip::Array(item) | Skip::Map(item) => {
            for _ in 0..rng.below(3) {
                let n = rng.below(3) as i64 + 1;
                let mut body = Vec::new();
                for _ in 0..n {
                    if matches!(skip, Skip::Map(_)) {
                        encode_skip(&Skip::LengthPrefixed, rng, &mut body);
                    }
                    encode_skip(item, rng, &mut body);
                }
                if rng.below(2) == 0 {
                    zigzag(n, out);
                } else {
                    zigzag(-n, out);
                    zigzag(body.len() as i64, out);
                }
                out.extend(body);
            }
            out.push(0);
        }
        Skip::Union(branches) => {
            let i = rng.below(branches.len() as u64) as usize;
            zigzag(i as i64, out);
            encode_skip(&branches[i], rng, out);
        }
        Skip::Record(fields) => {
            for f in fields {
                encode_skip(f, rng, out);
            }
        }
    }
}

fn reads_a_byte(skip: &Skip) -> bool {
    match skip {
        Skip::Nothing => false,
        Skip::Bytes(n) => *n > 0,
        Skip::Record(fields) => fields.iter().any(reads_a_byte),
        _ => true,
    }
}

fn random_skip(rng: &mut Rng, depth: u32) -> Skip {
    let simple = [
        Skip::Nothing,
        Skip::Varint,
        Skip::Varint,
        Skip::Bytes(0),
        Skip::Bytes(1),
        Skip::Bytes(4),
        Skip::Bytes(8),
        Skip::LengthPrefixed,
        Skip::LengthPrefixed,
    ];
    let pick = rng.below(if depth >= 2 { 9 } else { 13 });
    match pick {
        9 => {
            // Items read at least a byte, so that a damaged count fails
            // instead of looping for ever.
            let item = loop {
                let item = random_skip(rng, depth + 1);
                if reads_a_byte(&item) {
                    break item;
                }
            };
            Skip::Array(Box::new(item))
        }
        10 => Skip::Map(Box::new(random_skip(rng, depth + 1))),
        11 => Skip::Union(
            (0..1 + rng.below(3))
                .map(|_| random_skip(rng, depth + 1))
                .collect(),
        ),
        12 => Skip::Record(
            (0..rng.below(4))
                .map(|_| random_skip(rng, depth + 1))
                .collect(),
        ),
        i => simple[i as usize].clone(),
    }
}

fn random_plan(rng: &mut Rng) -> Plan {
    let n = rng.below(24) as usize;
    let steps = (0..n)
        .map(|_| match rng.below(4) {
            0 | 1 => Step::Number(Field::ALL[rng.below(15) as usize]),
            2 => Step::Text(Field::ALL[rng.below(15) as usize]),
            _ => Step::Skip(random_skip(rng, 0)),
        })
        .collect();
    Plan { steps }
}

/// Records for `plan`, mostly valid: numbers small or in range, tags
/// short; now and then a value out of range or a long tag.
fn random_records(plan: &Plan, count: u64, rng: &mut Rng, out: &mut Vec<u8>) {
    let time = 1_600_000_000 + rng.below(3) as i64 * 60;
    for _ in 0..count {
        for step in &plan.steps {
            match step {
                Step::Number(Field::Time) => {
                    zigzag(time + rng.below(2) as i64 * 60, out);
                }
                Step::Number(_) => {
                    let v = match rng.below(40) {
                        0 => rng.long(),
                        1..=9 => rng.below(1 << 32) as i64,
                        10..=19 => rng.below(70_000) as i64,
                        _ => rng.below(20) as i64,
                    };
                    zigzag(v, out);
                }
                Step::Text(_) => {
                    let n = if rng.below(50) == 0 { 17 } else { rng.below(4) };
                    zigzag(n as i64, out);
                    out.extend((0..n).map(|_| b"EU?? \x01\xc3\xa9AF"[rng.below(10) as usize]));
                }
                Step::Skip(skip) => encode_skip(skip, rng, out),
            }
        }
    }
}

/// Decodes with both decoders and asserts the same outcome.
fn same_outcome(plan: &Plan, filter: Filter, data: &[u8], count: u64) -> Result<(), String> {
    let mut got = DecodedBlock::default();
    let mut want = DecodedBlock::default();
    let got_res = decode_block(plan, filter, data, count, &mut got);
    let want_res = reference::decode_block(plan, filter, data, count, &mut want);
    assert_eq!(got_res, want_res, "{plan:?} {filter:?} {count} {data:02x?}");
    assert_eq!(got.runs, want.runs);
    assert_eq!(got.records, want.records);
    assert_eq!(got.total, want.total);
    want_res
}

#[test]
fn random_plans_and_blocks_match_the_reference() {
    let mut rng = Rng(11);
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..3000 {
        let plan = random_plan(&mut rng);
        let count = rng.below(6);
        let mut data = Vec::new();
        random_records(&plan, count, &mut rng, &mut data);
        let filter =
            [Filter::All, Filter::NonSpoofed, Filter::UnroutedNonSpoofed][rng.below(3) as usize];
        let outcome = |data: &[u8], count: u64| match same_outcome(&plan, filter, data, count) {
            Ok(()) => 1,
            Err(_) => 0,
        };
        let r = outcome(&data, count);
        ok += r;
        failed += 1 - r;
        // Damaged: a wrong count, cut short, a byte changed, bytes added.
        outcome(&data, count + 1);
        outcome(&data, count.saturating_sub(1));
        if !data.is_empty() {
            let cut = rng.below(data.len() as u64) as usize;
            outcome(&data[..cut], count);
            let mut changed = data.clone();
            let at = rng.below(data.len() as u64) as usize;
            changed[at] = rng.next_u64() as u8;
            outcome(&changed, count);
        }
        let mut longer = data.clone();
        longer.extend([0x80; 3]);
        outcome(&longer, count);
    }
    assert!(ok > 500 && failed > 100, "{ok} ok, {failed} failed");
}

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

#[test]
fn compiled_plans_merge_skips() {
    let plan = Plan {
        steps: vec![
            Step::Skip(Skip::Varint),
            Step::Skip(Skip::Nothing),
            Step::Skip(Skip::Record(vec![Skip::Varint, Skip::Bytes(0)])),
            Step::Number(Field::Time),
            Step::Skip(Skip::Bytes(4)),
            Step::Skip(Skip::Record(vec![Skip::Bytes(8), Skip::Nothing])),
            Step::Skip(Skip::LengthPrefixed),
            Step::Skip(Skip::LengthPrefixed),
            Step::Text(Field::NetacqCountry),
            Step::Number(Field::NetacqCountry),
            Step::Skip(Skip::Union(vec![Skip::Nothing])),
        ],
    };
    let mut ops = Vec::new();
    compile(&plan, &mut ops);
    assert_eq!(
        ops,
        [
            Op::SkipVarints(2),
            Op::Time,
            Op::SkipBytes(12),
            Op::SkipPrefixed(2),
            Op::Tag(Field::NetacqCountry, 1),
            Op::SkipVarints(1),
            Op::Skip(&Skip::Union(vec![Skip::Nothing])),
        ]
    );
}

#[test]
fn flowtuple_records_match_the_reference() {
    // The generator's schema with every field read, and with none.
    let numbers = &Field::ALL[..11];
    let names = [
        "time",
        "src_ip",
        "dst_ip",
        "src_port",
        "dst_port",
        "protocol",
        "ttl",
        "tcp_flags",
        "ip_len",
        "tcp_synlen",
        "tcp_synwinlen",
        "packet_cnt",
        "is_spoofed",
        "is_masscan",
        "maxmind_continent",
        "maxmind_country",
        "netacq_continent",
        "netacq_country",
        "prefix2asn",
    ]
    .map(|name| (name, Field::ALL.into_iter().find(|f| f.name() == name)));
    let mut rng = Rng(3);
    for needed in [&Field::ALL[..], numbers, &[Field::Time][..], &[][..]] {
        let steps = names
            .iter()
            .map(|(_, f)| match f {
                Some(f) if needed.contains(f) => {
                    if numbers.contains(f) {
                        Step::Number(*f)
                    } else {
                        Step::Text(*f)
                    }
                }
                Some(f) if !numbers.contains(f) => Step::Skip(Skip::LengthPrefixed),
                _ => Step::Skip(Skip::Varint),
            })
            .collect();
        let plan = Plan { steps };
        // A block of well-formed records: every value in range.
        let mut data = Vec::new();
        let count = 500;
        for i in 0..count {
            for (name, _) in names {
                match name {
                    "time" => zigzag(1_600_000_020 + (i / 200) * 60, &mut data),
                    n if n.contains("continent") || n.contains("country") => {
                        zigzag(2, &mut data);
                        data.extend(b"EU");
                    }
                    "src_ip" | "dst_ip" | "prefix2asn" => {
                        zigzag(rng.below(1 << 32) as i64, &mut data)
                    }
                    _ => zigzag(rng.below(70_000) as i64, &mut data),
                }
            }
        }
        for filter in [Filter::All, Filter::NonSpoofed, Filter::UnroutedNonSpoofed] {
            assert_eq!(same_outcome(&plan, filter, &data, count as u64), Ok(()));
            for cut in [1, 2, 5, 9, 10, 11, 17, 40] {
                let err = same_outcome(&plan, filter, &data[..data.len() - cut], count as u64)
                    .unwrap_err();
                assert!(err.contains("ends early"), "{err}");
            }
        }
    }
}
