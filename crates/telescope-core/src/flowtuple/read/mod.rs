//! Bytes to records' raw material: [`input`] removes a gzip, bzip2 or zstd
//! wrapper, [`container`] reads the Avro header and blocks, [`codec`]
//! decompresses a block; every step checks what the format lets it check
//! (checksums, lengths, sync markers) and bounds what it allocates by
//! [`codec::MAX_BLOCK_BYTES`] before allocating.

pub(crate) mod codec;
pub(crate) mod container;
pub(crate) mod input;
pub(crate) mod zstd;
