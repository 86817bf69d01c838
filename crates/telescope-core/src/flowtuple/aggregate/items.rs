//! Items: what a counted record leaves per counted value (the value and
//! the series keys it counts in, with packets and bytes for the ASN pass),
//! filed in buckets by a hash of the value.

use super::keys::UNUSED;

/// A source or destination value and up to `K` series keys it counts in
/// (unused keys are [`UNUSED`]). `K` is the most keys a record of the mode
/// needs ([`Rules::keys_per_record`]), so a record makes one item per value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Item<const K: usize> {
    pub(super) value: u32,
    pub(super) keys: [u32; K],
}

/// An ASN item: the ASN value and its series keys, and the record's
/// packets and length for the sums.
#[derive(Debug, Clone, Copy)]
pub(super) struct SumItem<const K: usize> {
    pub(super) item: Item<K>,
    /// `packet_cnt` in two halves (low first), so the item needs no 8-byte
    /// alignment.
    pub(super) packets: [u32; 2],
    pub(super) ip_len: i32,
}

/// An item of a pass: sorted by its value, counted in its series.
pub(super) trait Valued: Copy {
    /// What a series slot holds while the pass counts.
    type Slot: Copy + Default;
    fn value(&self) -> u32;
    fn keys(&self) -> &[u32];
    /// Counts the item in `slot`, the slot at `index`, once per `group`
    /// (see [`scan`]); sums that would overflow the slot go to `spill`.
    fn tally(
        &self,
        slot: &mut Self::Slot,
        index: usize,
        group: u64,
        spill: &mut Vec<(usize, Sums)>,
    );
    /// A placeholder to fill working space with.
    fn blank() -> Self;
}

/// Counts a value once per `group` in `slot`: the stamp of the last value
/// that counted it (high half) and its count (low half). Branch-free:
/// whether a slot already counted a value is unpredictable.
#[inline]
pub(super) fn stamp(slot: &mut u64, group: u64) {
    let counted = u64::from(*slot >> 32 != group);
    *slot = group << 32 | ((*slot & 0xffff_ffff) + counted);
}

impl<const K: usize> Valued for Item<K> {
    type Slot = u64;
    #[inline]
    fn value(&self) -> u32 {
        self.value
    }
    #[inline]
    fn keys(&self) -> &[u32] {
        &self.keys
    }
    #[inline]
    fn tally(&self, slot: &mut u64, _: usize, group: u64, _: &mut Vec<(usize, Sums)>) {
        stamp(slot, group);
    }
    fn blank() -> Self {
        Item {
            value: 0,
            keys: [UNUSED; K],
        }
    }
}

/// Report rules with `prefixagg` sources: a source item that also carries
/// its record's ASN. Sorted stably, the first item of a value (a source
/// aggregate) that has a series' key is the aggregate's first record in
/// that series, whose ASN the series counts (see [`super::count`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct FirstItem<const K: usize> {
    pub(super) item: Item<K>,
    pub(super) asn: u32,
}

impl<const K: usize> Valued for FirstItem<K> {
    type Slot = u64;
    #[inline]
    fn value(&self) -> u32 {
        self.item.value
    }
    #[inline]
    fn keys(&self) -> &[u32] {
        &self.item.keys
    }
    #[inline]
    fn tally(&self, slot: &mut u64, _: usize, group: u64, _: &mut Vec<(usize, Sums)>) {
        stamp(slot, group);
    }
    fn blank() -> Self {
        FirstItem {
            item: Item::blank(),
            asn: 0,
        }
    }
}

/// A series slot of the ASN pass: its stamp and count (see [`stamp`]) and
/// its sums, 32 bytes aligned to 32, so that counting an item touches one
/// cache line per series. Sums that would overflow 64 bits are spilled.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
pub(super) struct AsnSlot {
    pub(super) stamp: u64,
    pub(super) packets: i64,
    pub(super) bytes: i64,
}

impl<const K: usize> SumItem<K> {
    #[inline]
    pub(super) fn packets(&self) -> i64 {
        (u64::from(self.packets[1]) << 32 | u64::from(self.packets[0])) as i64
    }
}

impl<const K: usize> Valued for SumItem<K> {
    type Slot = AsnSlot;
    #[inline]
    fn value(&self) -> u32 {
        self.item.value
    }
    #[inline]
    fn keys(&self) -> &[u32] {
        &self.item.keys
    }
    #[inline]
    fn tally(&self, slot: &mut AsnSlot, index: usize, group: u64, spill: &mut Vec<(usize, Sums)>) {
        Summed::from(*self).tally(slot, index, group, spill);
    }
    fn blank() -> Self {
        SumItem {
            item: Item::blank(),
            packets: [0; 2],
            ip_len: 0,
        }
    }
}

/// ASN items of one value and keys summed into one, as spilled runs hold
/// them (see [`super::spill`]): the sums of packets and of bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Summed<const K: usize> {
    pub(super) item: Item<K>,
    pub(super) packets: i64,
    pub(super) bytes: i128,
}

impl<const K: usize> From<SumItem<K>> for Summed<K> {
    #[inline]
    fn from(item: SumItem<K>) -> Summed<K> {
        let packets = item.packets();
        Summed {
            item: item.item,
            packets,
            bytes: i128::from(packets) * i128::from(item.ip_len),
        }
    }
}

impl<const K: usize> Valued for Summed<K> {
    type Slot = AsnSlot;
    #[inline]
    fn value(&self) -> u32 {
        self.item.value
    }
    #[inline]
    fn keys(&self) -> &[u32] {
        &self.item.keys
    }
    #[inline]
    fn tally(&self, slot: &mut AsnSlot, index: usize, group: u64, spill: &mut Vec<(usize, Sums)>) {
        stamp(&mut slot.stamp, group);
        add_sums(slot, index, self.packets, self.bytes, spill);
    }
    fn blank() -> Self {
        Summed {
            item: Item::blank(),
            packets: 0,
            bytes: 0,
        }
    }
}

/// Adds packets and bytes to a slot's sums, or, where the slot's 64 bits
/// would overflow, to `spill` (summed with the slot when counting ends).
#[inline]
fn add_sums(
    slot: &mut AsnSlot,
    index: usize,
    packets: i64,
    bytes: i128,
    spill: &mut Vec<(usize, Sums)>,
) {
    let sums = i64::try_from(bytes).ok().and_then(|bytes| {
        Some((
            slot.packets.checked_add(packets)?,
            slot.bytes.checked_add(bytes)?,
        ))
    });
    match sums {
        Some((packets, bytes)) => {
            slot.packets = packets;
            slot.bytes = bytes;
        }
        None => spill.push((
            index,
            Sums {
                packets: i128::from(packets),
                bytes,
            },
        )),
    }
}

/// The passes over a complete interval's items, each counting the distinct
/// values of one kind (see [`super::count`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    /// Source addresses, by the source counting method.
    Sources,
    /// Destination addresses, by the destination counting method.
    Destinations,
    /// ASNs, with the records' packets and bytes.
    Asns,
    /// Sources with the ASN of their first record (report rules,
    /// `prefixagg` sources); counted with the sources.
    Firsts,
}

impl Pass {
    /// Every pass, in [`Pass::index`] order.
    pub(super) const ALL: [Pass; 4] = [Pass::Sources, Pass::Destinations, Pass::Asns, Pass::Firsts];

    /// The pass's place in per-pass arrays.
    #[inline]
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// Buckets per pass (the top bits of a value pick its bucket).
pub(super) const BUCKET_BITS: u32 = 6;
pub(super) const BUCKETS: usize = 1 << BUCKET_BITS;

/// A bijection of `u32` that spreads values: its top bits pick the
/// bucket, the rest order the bucket, and equal results mean equal values.
#[inline]
pub(super) fn spread(value: u32) -> u32 {
    value.wrapping_mul(0x9e37_79b1)
}

#[inline]
pub(super) fn bucket_of(spread: u32) -> usize {
    (spread >> (32 - BUCKET_BITS)) as usize
}

/// Items in chunks of fixed capacity: growing never copies.
pub(super) struct Bucket<T> {
    pub(super) full: Vec<Vec<T>>,
    pub(super) last: Vec<T>,
    /// Empty chunks of items spilled, filled again before new ones are
    /// allocated (see [`Bucket::recycle`]).
    spare: Vec<Vec<T>>,
}

impl<T> Default for Bucket<T> {
    fn default() -> Self {
        Bucket {
            full: Vec::new(),
            last: Vec::new(),
            spare: Vec::new(),
        }
    }
}

pub(super) const CHUNK_BYTES: usize = 1 << 16;

impl<T: Copy> Bucket<T> {
    #[inline]
    pub(super) fn push(&mut self, item: T) {
        if self.last.len() == self.last.capacity() {
            self.next_chunk();
        }
        self.last.push(item);
    }

    #[cold]
    fn next_chunk(&mut self) {
        let chunk = CHUNK_BYTES / std::mem::size_of::<T>();
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(chunk));
        let full = std::mem::replace(&mut self.last, next);
        if !full.is_empty() {
            self.full.push(full);
        }
    }

    /// Empties the bucket and keeps its chunks for the items filed next:
    /// memory the process already has, instead of new pages from the
    /// kernel (which zeroes each on first touch) for every spill.
    pub(super) fn recycle(&mut self) {
        let last = std::mem::take(&mut self.last);
        for mut chunk in self.full.drain(..).chain(std::iter::once(last)) {
            if chunk.capacity() > 0 {
                chunk.clear();
                self.spare.push(chunk);
            }
        }
    }

    /// Drops the spare chunks.
    pub(super) fn release(&mut self) {
        self.spare = Vec::new();
    }

    /// The bucket's chunks of items, in the order filed.
    pub(super) fn chunks(&self) -> impl Iterator<Item = &[T]> {
        self.full
            .iter()
            .map(Vec::as_slice)
            .chain(std::iter::once(self.last.as_slice()))
    }

    /// The bucket's items, to change in place.
    pub(super) fn items_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.full
            .iter_mut()
            .chain(std::iter::once(&mut self.last))
            .flatten()
    }

    /// The size of the bucket's items (every chunk but the last is full:
    /// [`Bucket::push`] starts a chunk only when the last one is).
    pub(super) fn bytes(&self) -> usize {
        let size = std::mem::size_of::<T>();
        (self.full.len() * (CHUNK_BYTES / size) + self.last.len()) * size
    }
}

pub(super) fn buckets<T>() -> Vec<Bucket<T>> {
    (0..BUCKETS).map(|_| Bucket::default()).collect()
}

/// Packet and byte sums of one series.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Sums {
    pub(super) packets: i128,
    pub(super) bytes: i128,
}

impl Sums {
    #[inline]
    pub(super) fn add(&mut self, packets: i64, ip_len: i32) {
        let packets = i128::from(packets);
        self.packets += packets;
        self.bytes += packets * i128::from(ip_len);
    }

    pub(super) fn merge(&mut self, other: &Sums) {
        self.packets += other.packets;
        self.bytes += other.bytes;
    }
}
