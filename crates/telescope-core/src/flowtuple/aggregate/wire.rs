//! Items as spilled runs hold them: identical items collapsed, and each
//! written compactly (varints: the value as the difference from the one
//! before, keys as id and table, sums zigzagged).
//!
//! The temporary files cost most of a spill (each byte is copied into the
//! page cache and back), so a run is as small as its items allow: a
//! source, destination or ASN item of a sorted run takes about 4 to 10
//! bytes rather than 12 to 44.

use rustc_hash::FxHashMap;

use super::items::{FirstItem, Item, SumItem, Summed, Valued};
use super::keys::{ID_BITS, ID_MASK, UNUSED};

/// An item kind that spills: sorted items of one value are collapsed into
/// [`Spillable::Disk`] items, which the merge hands to the count.
pub(super) trait Spillable: Valued + Send {
    /// What a run holds and the merge yields.
    type Disk: Valued + Wire + From<Self> + Send;
    /// Working space of [`Spillable::collapse`], reused between groups.
    type Scratch: Default;
    /// Appends the items of `group` (one value, in input order) to `out`,
    /// identical ones counted once (summed, where they carry sums), in the
    /// order of their first appearance.
    fn collapse(group: &mut [Self], out: &mut Vec<Self::Disk>, scratch: &mut Self::Scratch);
}

/// Writing an item of a sorted run, and reading it back.
pub(super) trait Wire: Sized {
    /// The most bytes [`Wire::encode`] writes.
    const MAX_BYTES: usize;
    /// Appends the item; `prev` is the value of the item before it in the
    /// run (0 for the first).
    fn encode(&self, prev: u32, out: &mut Vec<u8>);
    /// The item at `bytes[*at..]`, advancing `at`; `None` if the bytes end
    /// inside it or do not make an item.
    fn decode(bytes: &[u8], at: &mut usize, prev: u32) -> Option<Self>;
}

/// Groups up to this many items are collapsed by comparing each with those
/// kept so far; longer ones (a busy source, a common ASN) through a map.
const SHORT_GROUP: usize = 16;

/// Where the items of a long group kept so far are, by keys.
pub(super) type KeptAt<const K: usize> = FxHashMap<[u32; K], usize>;

/// Empties `kept` for a group of `len` items: clearing costs the map's
/// capacity, so a map grown by a much longer group is dropped instead.
fn reset<const K: usize>(kept: &mut KeptAt<K>, len: usize) {
    if kept.capacity() > 4 * len {
        *kept = KeptAt::default();
    } else {
        kept.clear();
    }
}

/// Appends the first item of each distinct keys of `group` to `out`, in
/// input order.
fn keep_first<T: Valued, const K: usize>(
    group: &[T],
    keys: impl Fn(&T) -> &[u32; K],
    out: &mut Vec<T>,
    kept: &mut KeptAt<K>,
) {
    if group.len() <= SHORT_GROUP {
        let start = out.len();
        for item in group {
            if !out[start..].iter().any(|o| keys(o) == keys(item)) {
                out.push(*item);
            }
        }
        return;
    }
    reset(kept, group.len());
    for item in group {
        kept.entry(*keys(item)).or_insert_with(|| {
            out.push(*item);
            out.len() - 1
        });
    }
}

impl<const K: usize> Spillable for Item<K> {
    type Disk = Item<K>;
    type Scratch = KeptAt<K>;
    fn collapse(group: &mut [Self], out: &mut Vec<Item<K>>, kept: &mut KeptAt<K>) {
        keep_first(group, |i| &i.keys, out, kept);
    }
}

impl<const K: usize> Spillable for FirstItem<K> {
    type Disk = FirstItem<K>;
    type Scratch = KeptAt<K>;
    /// The first item of identical keys is the one whose ASN counts.
    fn collapse(group: &mut [Self], out: &mut Vec<FirstItem<K>>, kept: &mut KeptAt<K>) {
        keep_first(group, |i| &i.item.keys, out, kept);
    }
}

impl<const K: usize> Spillable for SumItem<K> {
    type Disk = Summed<K>;
    type Scratch = KeptAt<K>;
    fn collapse(group: &mut [Self], out: &mut Vec<Summed<K>>, kept: &mut KeptAt<K>) {
        // Adds `item` to `sum`, if its packets can take it.
        let add = |sum: &mut Summed<K>, item: &Summed<K>| -> bool {
            match sum.packets.checked_add(item.packets) {
                Some(packets) => {
                    sum.packets = packets;
                    sum.bytes += item.bytes;
                    true
                }
                None => false,
            }
        };
        let start = out.len();
        if group.len() <= SHORT_GROUP {
            for &item in group.iter() {
                let item = Summed::from(item);
                // The last kept item of the same keys (an earlier one may
                // be full).
                let same = out[start..]
                    .iter_mut()
                    .rev()
                    .find(|o| o.item.keys == item.item.keys);
                if !same.is_some_and(|sum| add(sum, &item)) {
                    out.push(item);
                }
            }
            return;
        }
        reset(kept, group.len());
        for &item in group.iter() {
            let item = Summed::from(item);
            match kept.get(&item.item.keys) {
                Some(&at) if add(&mut out[at], &item) => {}
                _ => {
                    kept.insert(item.item.keys, out.len());
                    out.push(item);
                }
            }
        }
    }
}

impl<const K: usize> Wire for Item<K> {
    const MAX_BYTES: usize = 5 + 5 * K;
    #[inline]
    fn encode(&self, prev: u32, out: &mut Vec<u8>) {
        varint(u64::from(self.value.wrapping_sub(prev)), out);
        for &key in &self.keys {
            varint(key_word(key), out);
        }
    }
    #[inline]
    fn decode(bytes: &[u8], at: &mut usize, prev: u32) -> Option<Self> {
        let delta = u32::try_from(read_varint(bytes, at)?).ok()?;
        let mut keys = [UNUSED; K];
        for key in &mut keys {
            *key = word_key(read_varint(bytes, at)?)?;
        }
        Some(Item {
            value: prev.wrapping_add(delta),
            keys,
        })
    }
}

impl<const K: usize> Wire for FirstItem<K> {
    const MAX_BYTES: usize = Item::<K>::MAX_BYTES + 5;
    #[inline]
    fn encode(&self, prev: u32, out: &mut Vec<u8>) {
        self.item.encode(prev, out);
        varint(u64::from(self.asn), out);
    }
    #[inline]
    fn decode(bytes: &[u8], at: &mut usize, prev: u32) -> Option<Self> {
        let item = Item::decode(bytes, at, prev)?;
        let asn = u32::try_from(read_varint(bytes, at)?).ok()?;
        Some(FirstItem { item, asn })
    }
}

impl<const K: usize> Wire for Summed<K> {
    const MAX_BYTES: usize = Item::<K>::MAX_BYTES + 10 + 19;
    #[inline]
    fn encode(&self, prev: u32, out: &mut Vec<u8>) {
        self.item.encode(prev, out);
        varint(zigzag(i128::from(self.packets)) as u64, out);
        varint128(zigzag(self.bytes), out);
    }
    #[inline]
    fn decode(bytes: &[u8], at: &mut usize, prev: u32) -> Option<Self> {
        let item = Item::decode(bytes, at, prev)?;
        let packets = i64::try_from(unzigzag(u128::from(read_varint(bytes, at)?))).ok()?;
        let sum = unzigzag(read_varint128(bytes, at)?);
        Some(Summed {
            item,
            packets,
            bytes: sum,
        })
    }
}

/// A series key as a small number: 0 for [`UNUSED`], else the id and the
/// table (in the low 4 bits), plus one.
#[inline]
fn key_word(key: u32) -> u64 {
    if key == UNUSED {
        0
    } else {
        (u64::from(key & ID_MASK) << 4 | u64::from(key >> ID_BITS)) + 1
    }
}

#[inline]
fn word_key(word: u64) -> Option<u32> {
    if word == 0 {
        return Some(UNUSED);
    }
    let word = word - 1;
    let (id, table) = (word >> 4, (word & 0xf) as u32);
    let id = u32::try_from(id).ok().filter(|&id| id <= ID_MASK)?;
    Some(table << ID_BITS | id)
}

#[inline]
fn zigzag(v: i128) -> u128 {
    ((v << 1) ^ (v >> 127)) as u128
}

#[inline]
fn unzigzag(v: u128) -> i128 {
    (v >> 1) as i128 ^ -((v & 1) as i128)
}

/// Appends `v` as a varint, a byte at a time: copying a few bytes from a
/// buffer called the C library's `memcpy` for every word, which took 5 %
/// of a spilling run.
#[inline]
pub(super) fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn varint128(mut v: u128, out: &mut Vec<u8>) {
    // Sums of bytes nearly always fit 64 bits.
    if let Ok(v) = u64::try_from(v) {
        return varint(v, out);
    }
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
pub(super) fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    // Most words are one to three bytes.
    if let Some(&[b0, b1, b2]) = bytes.get(*at..*at + 3) {
        let (b0, b1, b2) = (u64::from(b0), u64::from(b1), u64::from(b2));
        if b0 < 0x80 {
            *at += 1;
            return Some(b0);
        }
        if b1 < 0x80 {
            *at += 2;
            return Some(b0 & 0x7f | b1 << 7);
        }
        if b2 < 0x80 {
            *at += 3;
            return Some(b0 & 0x7f | (b1 & 0x7f) << 7 | b2 << 14);
        }
    }
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[inline]
fn read_varint128(bytes: &[u8], at: &mut usize) -> Option<u128> {
    if let Some(&[b0, b1]) = bytes.get(*at..*at + 2) {
        if b0 < 0x80 {
            *at += 1;
            return Some(u128::from(b0));
        }
        if b1 < 0x80 {
            *at += 2;
            return Some(u128::from(b0 & 0x7f) | u128::from(b1) << 7);
        }
    }
    let mut v = 0u128;
    for shift in (0..128).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u128::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_back_as_written() {
        let items = [
            Summed::<3> {
                item: Item {
                    value: 5,
                    keys: [1, UNUSED, 3 << ID_BITS | ID_MASK],
                },
                packets: i64::MIN,
                bytes: i128::from(i64::MIN) * i128::from(i32::MIN),
            },
            Summed::<3> {
                item: Item {
                    value: u32::MAX,
                    keys: [10 << ID_BITS, 0, UNUSED],
                },
                packets: i64::MAX,
                bytes: -7,
            },
        ];
        let mut buf = Vec::new();
        let mut prev = 0;
        for item in &items {
            item.encode(prev, &mut buf);
            prev = item.item.value;
        }
        assert!(buf.len() <= 2 * Summed::<3>::MAX_BYTES);
        let (mut at, mut prev) = (0, 0);
        for item in &items {
            let back = Summed::<3>::decode(&buf, &mut at, prev).unwrap();
            assert_eq!(
                (back.item.value, back.item.keys, back.packets, back.bytes),
                (item.item.value, item.item.keys, item.packets, item.bytes)
            );
            prev = back.item.value;
        }
        assert_eq!(at, buf.len());
        // Cut short: no item.
        let mut at = 0;
        assert!(Summed::<3>::decode(&buf[..3], &mut at, 0).is_none());
    }

    /// Short and long groups (compared or sorted) both sum identical items
    /// and keep every distinct one; an item whose packets would overflow
    /// its sum stays apart.
    #[test]
    fn identical_items_collapse() {
        let item = |keys, packets: i64, ip_len| SumItem::<2> {
            item: Item { value: 9, keys },
            packets: [packets as u32, (packets >> 32) as u32],
            ip_len,
        };
        for n in [3usize, 5, 40, 100] {
            let mut group: Vec<SumItem<2>> = (0..n)
                .map(|i| {
                    item(
                        [(i % 4) as u32, (i % 3) as u32],
                        i as i64 + 1,
                        10 * i as i32,
                    )
                })
                .collect();
            group.push(item([0, 0], i64::MAX, 1));
            // The obvious sums, per keys.
            let mut want = std::collections::BTreeMap::new();
            for g in &group {
                let e = want.entry(g.item.keys).or_insert((0i128, 0i128));
                e.0 += i128::from(g.packets());
                e.1 += i128::from(g.packets()) * i128::from(g.ip_len);
            }
            let mut out = Vec::new();
            SumItem::collapse(&mut group, &mut out, &mut KeptAt::default());
            let mut got = std::collections::BTreeMap::new();
            for s in &out {
                let e = got.entry(s.item.keys).or_insert((0i128, 0i128));
                e.0 += i128::from(s.packets);
                e.1 += s.bytes;
            }
            assert_eq!(got, want, "{n}");
            // The distinct keys, and the huge item alone.
            let distinct = n.min(12);
            assert_eq!(out.len(), distinct + 1, "{n}");
            let mut plain: Vec<Item<2>> = group.iter().map(|s| s.item).collect();
            let mut kept = Vec::new();
            Item::collapse(&mut plain, &mut kept, &mut KeptAt::default());
            assert_eq!(kept.len(), distinct, "{n}");
        }
    }
}
