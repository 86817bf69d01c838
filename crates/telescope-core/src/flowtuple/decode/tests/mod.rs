//! The compiled decoder against the reference decoder (`reference.rs`,
//! written from the Avro specification).

use std::collections::BTreeSet;

use super::*;
use crate::flowtuple::record::GeoTag;
use telescope_test_support::avro::zigzag;
use telescope_test_support::rng::{Random, SplitMix64 as Rng};

mod reference;
mod tags;
mod varints;

use reference::Ty;

/// A value of type `ty`, encoded as the specification says.
fn encode_value(ty: &Ty, rng: &mut Rng, out: &mut Vec<u8>) {
    match ty {
        Ty::Null => {}
        Ty::Int | Ty::Long => zigzag(rng.long(), out),
        Ty::Enum(n) => zigzag(rng.below(*n as u64) as i64, out),
        Ty::Boolean => out.push(rng.below(2) as u8),
        Ty::Float => out.extend((0..4).map(|_| rng.next_u64() as u8)),
        Ty::Double => out.extend((0..8).map(|_| rng.next_u64() as u8)),
        Ty::Fixed(n) => out.extend((0..*n).map(|_| rng.next_u64() as u8)),
        Ty::Bytes | Ty::String => {
            let n = rng.below(20) as usize;
            zigzag(n as i64, out);
            out.extend((0..n).map(|_| rng.next_u64() as u8));
        }
        Ty::Array(item) | Ty::Map(item) => {
            for _ in 0..rng.below(3) {
                let n = rng.below(3) as i64 + 1;
                let mut body = Vec::new();
                for _ in 0..n {
                    if matches!(ty, Ty::Map(_)) {
                        encode_value(&Ty::String, rng, &mut body);
                    }
                    encode_value(item, rng, &mut body);
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
        Ty::Union(branches) => {
            let i = rng.below(branches.len() as u64) as usize;
            zigzag(i as i64, out);
            encode_value(&branches[i], rng, out);
        }
        Ty::Record(fields) => {
            for f in fields {
                encode_value(f, rng, out);
            }
        }
    }
}

fn reads_a_byte(ty: &Ty) -> bool {
    match ty {
        Ty::Null => false,
        Ty::Fixed(n) => *n > 0,
        Ty::Record(fields) => fields.iter().any(reads_a_byte),
        _ => true,
    }
}

/// A random schema: nested up to two levels of arrays, maps, unions and
/// records; unions as the specification allows them (no union directly
/// in a union, no two branches of the same unnamed type).
fn random_ty(rng: &mut Rng, depth: u32) -> Ty {
    let simple = [
        Ty::Null,
        Ty::Long,
        Ty::Int,
        Ty::Fixed(0),
        Ty::Boolean,
        Ty::Float,
        Ty::Double,
        Ty::String,
        Ty::Bytes,
        Ty::Fixed(3),
        Ty::Enum(3),
    ];
    let pick = rng.below(if depth >= 2 { 11 } else { 15 });
    match pick {
        11 => {
            // Items read at least a byte, so that a damaged count fails
            // instead of looping for ever.
            let item = loop {
                let item = random_ty(rng, depth + 1);
                if reads_a_byte(&item) {
                    break item;
                }
            };
            Ty::Array(Box::new(item))
        }
        12 => Ty::Map(Box::new(random_ty(rng, depth + 1))),
        13 => {
            let mut branches: Vec<Ty> = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let b = random_ty(rng, depth + 1);
                let named = matches!(b, Ty::Fixed(_) | Ty::Enum(_) | Ty::Record(_));
                let same = |o: &Ty| std::mem::discriminant(o) == std::mem::discriminant(&b);
                if !matches!(b, Ty::Union(_)) && (named || !branches.iter().any(same)) {
                    branches.push(b);
                }
            }
            if branches.is_empty() {
                branches.push(Ty::Null);
            }
            Ty::Union(branches)
        }
        14 => Ty::Record(
            (0..rng.below(4))
                .map(|_| random_ty(rng, depth + 1))
                .collect(),
        ),
        i => simple[i as usize].clone(),
    }
}

/// The production schema compiler's `Skip` for a field of type `ty`.
fn compiled_skip(ty: &Ty) -> Skip {
    let schema = format!(
        r#"{{"type": "record", "name": "top", "fields": [{{"name": "x", "type": {}}}]}}"#,
        ty.json(&mut 0)
    );
    let plan = Plan::new(&schema, &[], "the test").unwrap_or_else(|e| panic!("{schema}: {e}"));
    match &plan.steps[..] {
        [Step::Skip(skip)] => skip.clone(),
        other => panic!("{schema}: {other:?}"),
    }
}

/// A plan for the compiled decoder and the same for the reference.
fn random_plan(rng: &mut Rng) -> (Plan, Vec<reference::Step>) {
    let n = rng.below(24) as usize;
    let (steps, reference) = (0..n)
        .map(|_| match rng.below(4) {
            0 | 1 => {
                let f = Field::ALL[rng.below(15) as usize];
                (Step::Number(f), reference::Step::Number(f))
            }
            2 => {
                let f = Field::ALL[rng.below(15) as usize];
                (Step::Text(f), reference::Step::Text(f))
            }
            _ => {
                let ty = random_ty(rng, 0);
                (Step::Skip(compiled_skip(&ty)), reference::Step::Value(ty))
            }
        })
        .unzip();
    (Plan { steps }, reference)
}

/// Records for `steps`, mostly valid: numbers small or in range, tags
/// short; now and then a value out of range or a long tag.
fn random_records(steps: &[reference::Step], count: u64, rng: &mut Rng, out: &mut Vec<u8>) {
    let time = 1_600_000_000 + rng.below(3) as i64 * 60;
    for _ in 0..count {
        for step in steps {
            match step {
                reference::Step::Number(Field::Time) => {
                    zigzag(time + rng.below(2) as i64 * 60, out);
                }
                reference::Step::Number(_) => {
                    let v = match rng.below(40) {
                        0 => rng.long(),
                        1..=9 => rng.below(1 << 32) as i64,
                        10..=19 => rng.below(70_000) as i64,
                        _ => rng.below(20) as i64,
                    };
                    zigzag(v, out);
                }
                reference::Step::Text(_) => {
                    let n = if rng.below(50) == 0 { 17 } else { rng.below(4) };
                    zigzag(n as i64, out);
                    out.extend((0..n).map(|_| b"EU?? \x01\xc3\xa9AF"[rng.below(10) as usize]));
                }
                reference::Step::Value(ty) => encode_value(ty, rng, out),
            }
        }
    }
}

/// Decodes with both decoders and asserts the same outcome.
fn same_outcome(
    (plan, steps): (&Plan, &[reference::Step]),
    filter: Filter,
    data: &[u8],
    count: u64,
) -> Result<(), String> {
    let mut got = DecodedBlock::default();
    let mut want = DecodedBlock::default();
    let got_res = decode_block(plan, filter, data, count, &mut got);
    let want_res = reference::decode_block(steps, filter, data, count, &mut want);
    assert_eq!(got_res, want_res, "{plan:?} {filter:?} {count} {data:02x?}");
    assert_eq!(got.runs, want.runs);
    assert_eq!(got.records, want.records);
    assert_eq!(got.total, want.total);
    want_res
}

/// The names of the types in `ty`, nested ones too.
fn kinds_in(ty: &Ty, kinds: &mut BTreeSet<String>) {
    let name = format!("{ty:?}");
    kinds.insert(name.split('(').next().unwrap_or_default().to_string());
    match ty {
        Ty::Array(t) | Ty::Map(t) => kinds_in(t, kinds),
        Ty::Union(ts) | Ty::Record(ts) => ts.iter().for_each(|t| kinds_in(t, kinds)),
        _ => {}
    }
}

#[test]
fn random_plans_and_blocks_match_the_reference() {
    let mut rng = Rng(11);
    let (mut ok, mut failed) = (0, 0);
    let mut kinds = BTreeSet::new();
    for _ in 0..3000 {
        let (plan, steps) = random_plan(&mut rng);
        for step in &steps {
            if let reference::Step::Value(ty) = step {
                kinds_in(ty, &mut kinds);
            }
        }
        let count = rng.below(6);
        let mut data = Vec::new();
        random_records(&steps, count, &mut rng, &mut data);
        let filter =
            [Filter::All, Filter::NonSpoofed, Filter::UnroutedNonSpoofed][rng.below(3) as usize];
        let outcome =
            |data: &[u8], count: u64| match same_outcome((&plan, &steps), filter, data, count) {
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
    // Every Avro type was passed over, nested too.
    assert_eq!(kinds.len(), 14, "{kinds:?}");
    assert!(ok > 500 && failed > 100, "{ok} ok, {failed} failed");
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

/// Block counts at the ends of the long range, in arrays and maps: the
/// specification's negative count (with a byte size) and `i64::MIN`, which
/// has no absolute value.
#[test]
fn extreme_block_counts_match_the_reference() {
    let time = |out: &mut Vec<u8>| zigzag(1_600_000_020, out);
    for ty in [Ty::Array(Box::new(Ty::Long)), Ty::Map(Box::new(Ty::Long))] {
        let plan = Plan {
            steps: vec![Step::Number(Field::Time), Step::Skip(compiled_skip(&ty))],
        };
        let steps = [
            reference::Step::Number(Field::Time),
            reference::Step::Value(ty.clone()),
        ];
        let item: &[u8] = if matches!(ty, Ty::Map(_)) {
            &[2, b'k', 6]
        } else {
            &[6]
        };
        let cases: [(i64, Option<i64>, &str); 4] = [
            (i64::MIN, Some(0), "record 0 of the block: bad item count"),
            (
                i64::MIN + 1,
                Some(0),
                "record 0 of the block: record data ends early",
            ),
            (
                i64::MAX,
                None,
                "record 0 of the block: record data ends early",
            ),
            (-1, Some(i64::MAX), ""),
        ];
        for (count, size, want) in cases {
            let mut data = Vec::new();
            time(&mut data);
            zigzag(count, &mut data);
            if let Some(size) = size {
                zigzag(size, &mut data);
            }
            data.extend(item);
            data.push(0);
            let got = same_outcome((&plan, &steps), Filter::All, &data, 1);
            match got {
                Ok(()) => assert_eq!(want, "", "{ty:?} {count}"),
                Err(e) => assert!(
                    !want.is_empty() && e.starts_with(want),
                    "{ty:?} {count}: {e}"
                ),
            }
        }
    }
}

#[test]
fn flowtuple_records_match_the_reference() {
    // The generator's schema with every field read, and with none.
    let numbers = &Field::ALL[..11];
    let names = telescope_test_support::v3::V3_FIELDS
        .map(|name| (name, Field::ALL.into_iter().find(|f| f.name() == name)));
    let mut rng = Rng(3);
    for needed in [&Field::ALL[..], numbers, &[Field::Time][..], &[][..]] {
        let (steps, reference): (Vec<Step>, Vec<reference::Step>) = names
            .iter()
            .map(|(_, f)| match f {
                Some(f) if needed.contains(f) => {
                    if numbers.contains(f) {
                        (Step::Number(*f), reference::Step::Number(*f))
                    } else {
                        (Step::Text(*f), reference::Step::Text(*f))
                    }
                }
                Some(f) if !numbers.contains(f) => (
                    Step::Skip(compiled_skip(&Ty::String)),
                    reference::Step::Value(Ty::String),
                ),
                _ => (
                    Step::Skip(compiled_skip(&Ty::Long)),
                    reference::Step::Value(Ty::Long),
                ),
            })
            .unzip();
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
            assert_eq!(
                same_outcome((&plan, &reference), filter, &data, count as u64),
                Ok(())
            );
            for cut in [1, 2, 5, 9, 10, 11, 17, 40] {
                let err = same_outcome(
                    (&plan, &reference),
                    filter,
                    &data[..data.len() - cut],
                    count as u64,
                )
                .unwrap_err();
                assert!(err.contains("ends early"), "{err}");
            }
        }
    }
}
