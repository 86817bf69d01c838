//! Turning one raw block into decoded, filtered records, and how much a
//! block may weigh in memory until it is aggregated.

use crate::flowtuple::decode::{decode_block, min_record_bytes, DecodedBlock, Run};
use crate::flowtuple::error::{FlowtupleError, Position};
use crate::flowtuple::filter::Filter;
use crate::flowtuple::flowtuple4;
use crate::flowtuple::read::codec::{decompress, Codec, MAX_BLOCK_BYTES};
use crate::flowtuple::read::container::RawBlock;
use crate::flowtuple::record::FlowRecord;
use crate::flowtuple::schema::Plan;

/// Receives each decoded block, in file order.
pub(super) type OnBlock<'a, E> = dyn FnMut(&DecodedBlock, Position) -> Result<(), E> + 'a;

/// Decompresses and decodes raw blocks.
/// The layout of the records a decoder reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// corsaro3 flowtuple (v3) records, counted as they are.
    Flowtuple,
    /// flowtuple4 records, turned into what the aggregator counts (see
    /// [`flowtuple4::finish_block`]).
    Flowtuple4 {
        /// The stated prefix length of `dst_net` (`None`: not stated, as
        /// in the decode-only baseline).
        dst_net: Option<u8>,
    },
}

pub(super) struct Decoder<'a> {
    codec: Codec,
    plan: &'a Plan,
    layout: Layout,
    filter: Filter,
    /// The fewest bytes a record takes.
    min_record_bytes: usize,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(codec: Codec, plan: &'a Plan, layout: Layout, filter: Filter) -> Decoder<'a> {
        Decoder {
            codec,
            plan,
            layout,
            filter,
            min_record_bytes: min_record_bytes(plan),
        }
    }

    /// The most records a block of `bytes` uncompressed bytes can hold.
    fn fit(&self, bytes: usize) -> u64 {
        (bytes / self.min_record_bytes) as u64
    }

    /// The most records `raw` may decode to: as many as it claims and a
    /// block can hold.
    pub(super) fn records(&self, raw: &RawBlock) -> usize {
        raw.count.min(self.fit(MAX_BLOCK_BYTES)) as usize
    }

    /// An upper bound on the bytes `raw` holds until it is aggregated: its
    /// data, and its records once decoded (a run each at most).
    pub(super) fn weight(&self, raw: &RawBlock) -> usize {
        let record = std::mem::size_of::<FlowRecord>() + std::mem::size_of::<Run>();
        raw.data.len() + self.records(raw) * record
    }

    /// Decompresses and decodes `raw` into `block` (its buffers reused),
    /// with `buf` as the decompression buffer.
    pub(super) fn block(
        &self,
        raw: &RawBlock,
        buf: &mut Vec<u8>,
        block: &mut DecodedBlock,
    ) -> Result<(), FlowtupleError> {
        let corrupt = |what: String| FlowtupleError::Corrupt { at: raw.pos, what };
        let cannot_fit = |bytes: usize| {
            corrupt(format!(
                "the block claims {} records, but {bytes} bytes hold at most {} (a record takes at least {} bytes)",
                raw.count,
                self.fit(bytes),
                self.min_record_bytes
            ))
        };
        // Checked before decompressing, against the most a block may hold,
        // then against what it holds.
        if raw.count > self.fit(MAX_BLOCK_BYTES) {
            return Err(cannot_fit(MAX_BLOCK_BYTES));
        }
        let data = decompress(self.codec, &raw.data, buf).map_err(corrupt)?;
        if raw.count > self.fit(data.len()) {
            return Err(cannot_fit(data.len()));
        }
        decode_block(self.plan, self.filter, data, raw.count, block).map_err(corrupt)?;
        if let Layout::Flowtuple4 { dst_net } = self.layout {
            flowtuple4::finish_block(block, dst_net)
                .map_err(|what| FlowtupleError::DstNet { at: raw.pos, what })?;
        }
        Ok(())
    }
}
