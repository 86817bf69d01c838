//! flowtuple-series on damaged and hostile input (issue 12): checksums of
//! every codec and wrapper, bounds on what a block may claim, and error
//! messages that name the place once and do not repeat their cause.

use std::io::Write;

use telescope_test_support::avro::zigzag;

use crate::util::{bin, testdata, text};

fn fixture(name: &str) -> String {
    testdata(&format!("flowtuple/{name}"))
        .to_string_lossy()
        .into_owned()
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(testdata(&format!("flowtuple/expected/{name}"))).unwrap()
}

fn run(args: &[&str]) -> (String, String, i32) {
    let out = crate::util::output(bin("flowtuple-series").args(args));
    let (o, e) = text(&out);
    (o, e, out.status.code().unwrap_or(-1))
}

/// Writes `bytes` to a file in `dir` and returns its path.
fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

/// Fails when a message says the same thing twice in a row, e.g.
/// `bzip2: invalid data: bzip2: invalid data`.
fn assert_no_repeat(err: &str) {
    let parts: Vec<&str> = err.trim_end().split(": ").collect();
    for k in 1..=parts.len() / 2 {
        for i in 0..=parts.len() - 2 * k {
            assert!(
                parts[i..i + k] != parts[i + k..i + 2 * k],
                "repeated `{}` in {err:?}",
                parts[i..i + k].join(": ")
            );
        }
    }
}

/// The warning that printed output must not be trusted: in `err` exactly
/// when something was printed (`out` not empty), naming how much.
pub(crate) fn assert_trust_warning_iff_printed(out: &str, err: &str) {
    let warned = err.contains("must not be trusted");
    assert_eq!(
        warned,
        !out.is_empty(),
        "out {} bytes, err {err:?}",
        out.len()
    );
    if warned {
        let blocks = count_time_blocks(out);
        let want = format!(
            "; {blocks} interval(s) of this file were already printed before the fault was \
             found: they came from unverified data and must not be trusted"
        );
        assert!(err.contains(&want), "want {want:?} in {err:?}");
    }
}

/// The intervals in seed output: runs of lines with one time.
fn count_time_blocks(out: &str) -> usize {
    let mut times: Vec<&str> = out.lines().map(|l| l.split(' ').next().unwrap()).collect();
    times.dedup();
    times.len()
}

/// Runs `file` in `mode` with one and with two threads; expects exit 1, a
/// one-line error containing each of `want`, and returns stdout (the same
/// for both thread counts).
fn fails(file: &str, mode: &str, want: &[&str]) -> String {
    let mut outs = Vec::new();
    for j in ["1", "2"] {
        let (out, err, code) = run(&[file, mode, "-j", j]);
        assert_eq!(code, 1, "{file} -j{j}: {err}");
        assert_eq!(err.lines().count(), 1, "{file} -j{j}: {err}");
        assert!(err.starts_with("flowtuple-series: "), "{err}");
        assert!(err.contains(file), "names the file: {err}");
        for w in want {
            assert!(err.contains(w), "{file} -j{j}: want {w:?} in {err:?}");
        }
        assert_no_repeat(&err);
        assert_trust_warning_iff_printed(&out, &err);
        outs.push(out);
    }
    assert_eq!(outs[0], outs[1], "{file}: same output for -j1 and -j2");
    outs.pop().unwrap()
}

/// An Avro container file taken apart: header (through the sync marker),
/// the sync marker, and each block's start, record count and data.
struct Avro {
    header: Vec<u8>,
    sync: Vec<u8>,
    blocks: Vec<(usize, i64, Vec<u8>)>,
}

fn long(b: &[u8], pos: &mut usize) -> i64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return ((v >> 1) as i64) ^ -((v & 1) as i64);
        }
    }
}

/// Where the data of the block starting at `start` begins.
fn data_start(bytes: &[u8], start: usize) -> usize {
    let mut pos = start;
    long(bytes, &mut pos);
    long(bytes, &mut pos);
    pos
}

impl Avro {
    fn parse(b: &[u8]) -> Avro {
        assert_eq!(&b[..4], b"Obj\x01");
        let mut pos = 4;
        loop {
            let n = long(b, &mut pos);
            if n == 0 {
                break;
            }
            for _ in 0..n.abs() {
                for _ in 0..2 {
                    let len = long(b, &mut pos) as usize;
                    pos += len;
                }
            }
        }
        pos += 16;
        let header = b[..pos].to_vec();
        let sync = b[pos - 16..pos].to_vec();
        let mut blocks = Vec::new();
        while pos < b.len() {
            let start = pos;
            let count = long(b, &mut pos);
            let size = long(b, &mut pos) as usize;
            blocks.push((start, count, b[pos..pos + size].to_vec()));
            pos += size + 16;
        }
        Avro {
            header,
            sync,
            blocks,
        }
    }

    fn read(name: &str) -> Avro {
        Avro::parse(&std::fs::read(fixture(name)).unwrap())
    }

    /// This file's header followed by `blocks` (record count, data).
    fn with_blocks(&self, blocks: &[(i64, &[u8])]) -> Vec<u8> {
        let mut out = self.header.clone();
        for (count, data) in blocks {
            zigzag(*count, &mut out);
            zigzag(data.len() as i64, &mut out);
            out.extend_from_slice(data);
            out.extend_from_slice(&self.sync);
        }
        out
    }
}

#[test]
fn zstd_wrapper_checksum_mismatches_print_nothing_and_exit_1() {
    for file in [
        "zstd-wrapper-bad-checksum.avro.zst",
        "zstd-wrapper-flipped-byte.avro.zst",
    ] {
        let out = fails(
            &fixture(file),
            "nonspoofed",
            &["zstd: frame 1 at compressed byte 0: checksum mismatch"],
        );
        // One frame, checked before its last bytes are handed on.
        assert_eq!(out, "", "{file}");
    }
}

#[test]
fn a_zstandard_block_failing_its_checksum_drops_its_interval() {
    // Block 2 holds the last records of 1600000020 and the first of
    // 1600000080 (worked out with fastavro from repro-deflate.avro, which
    // holds the same records): nothing is complete before it.
    for mode in ["nonspoofed", "unfiltered"] {
        let out = fails(
            &fixture("zstandard-codec-checksum-flipped.avro"),
            mode,
            &["corrupt file: block 2 at byte offset 3513: zstandard: frame 1 at compressed byte 0: checksum mismatch (stored 0x1aa242af"],
        );
        assert_eq!(out, "", "{mode}");
    }
    // With the byte restored, the file reads as the reference says.
    let (out, err, code) = run(&[&fixture("repro-zstandard.avro"), "nonspoofed"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, expected("repro.nonspoofed.txt"));
}

#[test]
fn gzip_crc32_and_isize_are_checked_member_by_member() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("small-deflate.avro.gz")).unwrap();
    let n = good.len();
    // The member trailer: CRC32 at n-8, ISIZE at n-4.
    for (at, what) in [
        (n - 8, "crc"),
        (n - 5, "crc"),
        (n - 4, "isize"),
        (n - 1, "isize"),
    ] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let file = write(&dir, &format!("bad-{what}-{at}.avro.gz"), &bad);
        let out = fails(&file, "unfiltered", &["gzip: checksum mismatch"]);
        // The trailer comes after every interval but the last.
        assert!(!out.is_empty(), "{file}");
    }
    // Two members, split inside a block: read as one stream; the first
    // member's CRC is checked when that member ends.
    let inner = std::fs::read(fixture("small-null.avro")).unwrap();
    let (a, b) = inner.split_at(inner.len() / 2);
    let member = |part: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(part).unwrap();
        e.finish().unwrap()
    };
    let (first, second) = (member(a), member(b));
    let two = write(
        &dir,
        "two.avro.gz",
        &[first.clone(), second.clone()].concat(),
    );
    let (out, _, code) = run(&[&two, "unfiltered"]);
    assert_eq!((code, out), (0, expected("small.unfiltered.txt")));
    let mut bad_first = first.clone();
    let m = bad_first.len();
    bad_first[m - 6] ^= 0x80;
    let bad = write(&dir, "bad-first.avro.gz", &[bad_first, second].concat());
    let out = fails(&bad, "unfiltered", &["gzip: checksum mismatch"]);
    let want = expected("small.unfiltered.txt");
    assert!(want.starts_with(&out) && out.len() < want.len());
}

#[test]
fn bzip2_block_and_stream_crcs_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("small-deflate.avro.bz2")).unwrap();
    // Bytes 10..14: the first block's CRC (after "BZh9" and the 6-byte
    // block magic); the last bytes: the stream CRC (not byte-aligned).
    for at in [10, 13, good.len() - 2] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let file = write(&dir, &format!("bad-{at}.avro.bz2"), &bad);
        fails(
            &file,
            "unfiltered",
            &["bzip2: invalid data (corrupt, or a block or stream CRC does not match)"],
        );
    }
    // Two streams: the first one's block CRC is checked when it ends.
    let mut two = std::fs::read(fixture("small-null.avro.2streams.bz2")).unwrap();
    two[10] ^= 0x01;
    let file = write(&dir, "bad-first.avro.bz2", &two);
    let out = fails(&file, "unfiltered", &["bzip2: invalid data"]);
    let want = expected("small.unfiltered.txt");
    assert!(want.starts_with(&out) && out.len() < want.len());
    // Cut short: the stream ends early.
    let file = write(&dir, "cut.avro.bz2", &good[..good.len() / 2]);
    fails(&file, "unfiltered", &["bzip2: the stream ends early"]);
}

#[test]
fn snappy_and_bzip2_codec_checksums_name_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(fixture("small-snappy.avro")).unwrap();
    let avro = Avro::parse(&bytes);
    let (start, _, data) = &avro.blocks[3];
    // The last data byte of block 3 is the low byte of its CRC32.
    let data_end = data_start(&bytes, *start) + data.len();
    bytes[data_end - 1] ^= 0x01;
    let file = write(&dir, "bad-crc.snappy.avro", &bytes);
    fails(
        &file,
        "unfiltered",
        &[&format!(
            "corrupt file: block 3 at byte offset {start}: snappy: checksum mismatch (stored CRC32"
        )],
    );

    let mut bytes = std::fs::read(fixture("small-bzip2.avro")).unwrap();
    let avro = Avro::parse(&bytes);
    let (start, _, data) = &avro.blocks[1];
    let data_at = data_start(&bytes, *start);
    assert_eq!(&bytes[data_at..data_at + data.len()], &data[..]);
    bytes[data_at + 10] ^= 0x01; // the block CRC
    let file = write(&dir, "bad-crc.bzip2.avro", &bytes);
    fails(
        &file,
        "unfiltered",
        &[&format!(
            "corrupt file: block 1 at byte offset {start}: bzip2: invalid data (corrupt, or a block or stream CRC does not match)"
        )],
    );
}

/// A raw deflate stream of `mib` MiB of zeros, about 1 KB per MiB: the
/// compressed form of the second MiB (a window of zeros behind it, flushed
/// to a byte boundary) is repeated.
fn deflate_zeros(mib: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let mut chunk = |input: &[u8], flush| {
        let mut out = Vec::with_capacity(1 << 20);
        c.compress_vec(input, &mut out, flush).unwrap();
        out
    };
    let first = chunk(&zeros, FlushCompress::Sync);
    let next = chunk(&zeros, FlushCompress::Sync);
    let end = chunk(&[], FlushCompress::Finish);
    let mut out = first;
    for _ in 1..mib {
        out.extend_from_slice(&next);
    }
    out.extend_from_slice(&end);
    out
}

#[test]
fn bombs_and_impossible_claims_fail_fast_naming_block_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    fails(
        &fixture("snappy-claims4G.avro"),
        "unfiltered",
        &["corrupt file: block 0 at byte offset 808: snappy: the block's length header claims 4294967295 bytes, more than 4194304 bytes (4 MiB), the most this reader accepts for a block"],
    );
    fails(
        &fixture("zstandard-3G-count10.avro"),
        "unfiltered",
        &["corrupt file: block 0 at byte offset 811: zstandard: the block inflates to more than 4194304 bytes (4 MiB)"],
    );
    // The 6 MB deflate bomb of ../shared/repro (6 GiB of zeros, count 10),
    // rebuilt, and a smaller one (64 MiB) stored within the bound.
    let deflate = Avro::read("small-deflate.avro");
    let header = deflate.header.len();
    let bomb = deflate_zeros(6 << 10);
    assert!(bomb.len() > 6_000_000, "{}", bomb.len());
    let file = write(
        &dir,
        "deflate-6G.avro",
        &deflate.with_blocks(&[(10, &bomb)]),
    );
    fails(
        &file,
        "unfiltered",
        &[&format!("corrupt file: block 0 at byte offset {header}: the block claims to store {} bytes, more than the 4718592 this reader accepts", bomb.len())],
    );
    let file = write(
        &dir,
        "deflate-64M.avro",
        &deflate.with_blocks(&[(10, &deflate_zeros(64))]),
    );
    fails(
        &file,
        "unfiltered",
        &[&format!("corrupt file: block 0 at byte offset {header}: deflate: the block inflates to more than 4194304 bytes (4 MiB)")],
    );
    // Record counts that cannot fit: past what any block may hold, and past
    // what this block's bytes hold.
    let null = Avro::read("small-null.avro");
    let header = null.header.len();
    let data = &null.blocks[0].2;
    let file = write(
        &dir,
        "count-2e40.avro",
        &null.with_blocks(&[(1 << 40, data)]),
    );
    fails(
        &file,
        "unfiltered",
        &[&format!("corrupt file: block 0 at byte offset {header}: the block claims 1099511627776 records, more than a block of at most 4194304 bytes can hold")],
    );
    let file = write(
        &dir,
        "count-1e5.avro",
        &null.with_blocks(&[(100_000, data)]),
    );
    fails(
        &file,
        "unfiltered",
        &[&format!(
            "corrupt file: block 0 at byte offset {header}: the block claims 100000 records, but {} bytes hold at most 52 (a record takes at least 19 bytes)",
            data.len()
        )],
    );
}

/// Sums of packets and bytes scale with copies of the records; distinct
/// counts do not.
fn scaled(out: &str, k: u64) -> String {
    out.lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let v: u64 = f[4].parse().unwrap();
            let v = if matches!(f[3], "packets" | "bytes") {
                v * k
            } else {
                v
            };
            format!("{} {} {} {} {v}\n", f[0], f[1], f[2], f[3])
        })
        .collect()
}

#[test]
fn a_4_mib_block_is_read_and_a_larger_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let null = Avro::read("small-null.avro");
    let (_, count, data) = &null.blocks[0];
    let one = write(&dir, "one.avro", &null.with_blocks(&[(*count, data)]));
    let (single, err, code) = run(&[&one, "unfiltered"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(single.lines().count() > 20);
    // As many copies of block 0's records as fit in 4 MiB, in one block.
    let k = (4 << 20) / data.len();
    let big = data.repeat(k);
    assert!(big.len() > (4 << 20) - data.len() && big.len() <= 4 << 20);
    let file = write(
        &dir,
        "big.avro",
        &null.with_blocks(&[(*count * k as i64, &big)]),
    );
    for j in ["1", "2"] {
        let (out, err, code) = run(&[&file, "unfiltered", "-j", j]);
        assert_eq!((code, err.as_str()), (0, ""), "-j{j}");
        assert_eq!(out, scaled(&single, k as u64), "-j{j}");
    }
    // One more copy passes the bound.
    let bigger = data.repeat(k + 1);
    let file = write(
        &dir,
        "bigger.avro",
        &null.with_blocks(&[(*count * (k + 1) as i64, &bigger)]),
    );
    fails(
        &file,
        "unfiltered",
        &[&format!(
            "null: the block holds {} bytes, more than 4194304 bytes (4 MiB)",
            bigger.len()
        )],
    );
}

#[test]
fn read_errors_say_their_cause_once() {
    // A directory opens but cannot be read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_string_lossy().into_owned();
    let out = fails(
        &path,
        "unfiltered",
        &["read error at byte offset 0: Is a directory"],
    );
    assert_eq!(out, "");
}
