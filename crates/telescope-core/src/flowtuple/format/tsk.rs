//! libtimeseries' TSK batch format, as its Kafka backend (`-f tsk`, the
//! tracets production format) writes it and CAIDA's tsk-proxy reads it.
//!
//! One interval becomes one or more messages. Each message is a header,
//! `TSKBATCH`, version byte 0, the interval time as u32 big-endian, the
//! channel length as u16 BE and the channel bytes; then key/value pairs,
//! each the key length as u16 BE, the key bytes and the value as u64 BE.
//! A message is closed as soon as it is longer than 512 KiB, and at the end
//! of the interval; an interval with no data point sends no message.
//! Keys and values are those of the timeseries format.
//!
//! ```
//! use telescope_core::flowtuple::format::tsk::{self, Batch};
//! use telescope_core::flowtuple::{
//!     Class, Counters, Format, Formatter, IntervalSeries, Key, SeriesRow,
//! };
//!
//! let counters = Counters { packets: 3, bytes: 120, uniq_src_ips: 2, ..Counters::default() };
//! let row = SeriesRow { class: Class::Summary, key: Key::Overall, continent: None, counters };
//! let interval = IntervalSeries { time: 120, rows: vec![row] };
//! let formatter = Formatter::new(Format::Timeseries, "flowtuple")?;
//! let messages = formatter.tsk(&interval, "ucsd-nt")?;
//! assert_eq!(messages.len(), 1);
//! assert!(messages[0].starts_with(tsk::MAGIC));
//!
//! let batch = Batch::parse(&messages[0])?;
//! assert_eq!((batch.time, batch.channel.as_str()), (120, "ucsd-nt"));
//! assert!(batch.points.contains(&("flowtuple.overall.pkt_cnt".to_string(), 3)));
//! assert!(batch.points.contains(&("flowtuple.overall.ip_len".to_string(), 120)));
//! assert_eq!(batch.points.len(), 5);
//! // Kafka: key and partition as libtimeseries' time partitioner picks them.
//! assert_eq!(tsk::message_key(120), [0, 0, 0, 120]);
//! assert_eq!(tsk::partition(120, 4), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use thiserror::Error;

use super::{timeseries, Column};
use crate::flowtuple::series::IntervalSeries;

/// The magic bytes that open every message.
pub const MAGIC: &[u8; 8] = b"TSKBATCH";
/// The message version libtimeseries writes and tsk-proxy expects.
pub const VERSION: u8 = 0;
/// A message is closed once it is longer than this many bytes.
pub const FLUSH_AFTER: usize = 512 * 1024;
/// The longest key libtimeseries writes (it asserts `len < UINT16_MAX`).
pub const MAX_KEY_LEN: usize = u16::MAX as usize - 1;

/// What can go wrong encoding or decoding TSK messages.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TskError {
    /// A value is negative or larger than u64, which TSK cannot carry.
    #[error("interval {time}: value {value} of key `{key}` does not fit in an unsigned 64-bit TSK value")]
    ValueOutOfRange {
        /// The key.
        key: String,
        /// Its exact value.
        value: i128,
        /// The interval.
        time: i64,
    },
    /// A key is longer than a TSK key may be.
    #[error("key `{key}...` is {len} bytes long; TSK keys are at most {MAX_KEY_LEN} bytes")]
    KeyTooLong {
        /// The key's first 60 bytes.
        key: String,
        /// Its length in bytes.
        len: usize,
    },
    /// An interval time outside 0..=4294967295, which TSK cannot carry.
    #[error("interval time {0} does not fit in the unsigned 32-bit TSK time")]
    TimeOutOfRange(i64),
    /// A channel name longer than 65535 bytes.
    #[error("channel name is {0} bytes long; at most 65535")]
    ChannelTooLong(usize),
    /// A message that is not a well-formed TSK batch.
    #[error("malformed TSK message at byte offset {offset}: {what}")]
    Malformed {
        /// Where in the message.
        offset: usize,
        /// What was wrong.
        what: String,
    },
}

/// The Kafka message key of every message of interval `time`: the time as
/// u32 big-endian.
pub fn message_key(time: u32) -> [u8; 4] {
    time.to_be_bytes()
}

/// The partition libtimeseries' time partitioner picks for interval `time`
/// among `partitions` (> 0) partitions: `(time / 60) % partitions`.
pub fn partition(time: u32, partitions: u32) -> u32 {
    (time / 60) % partitions
}

/// The interval time as TSK carries it.
pub fn tsk_time(time: i64) -> Result<u32, TskError> {
    u32::try_from(time).map_err(|_| TskError::TimeOutOfRange(time))
}

/// Cuts one interval's data points into TSK messages.
#[derive(Debug)]
pub struct Batcher {
    header: Vec<u8>,
    current: Vec<u8>,
    done: Vec<Vec<u8>>,
}

impl Batcher {
    /// A batcher for interval `time` of `channel`.
    pub fn new(time: u32, channel: &str) -> Result<Batcher, TskError> {
        let len =
            u16::try_from(channel.len()).map_err(|_| TskError::ChannelTooLong(channel.len()))?;
        let mut header = Vec::with_capacity(15 + channel.len());
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        header.extend_from_slice(&time.to_be_bytes());
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(channel.as_bytes());
        Ok(Batcher {
            header,
            current: Vec::new(),
            done: Vec::new(),
        })
    }

    /// Adds one data point, closing the message once it passes
    /// [`FLUSH_AFTER`] bytes.
    pub fn push(&mut self, key: &str, value: u64) -> Result<(), TskError> {
        let len = u16::try_from(key.len())
            .ok()
            .filter(|&l| usize::from(l) <= MAX_KEY_LEN)
            .ok_or_else(|| TskError::KeyTooLong {
                key: key.chars().take(60).collect(),
                len: key.len(),
            })?;
        if self.current.is_empty() {
            self.current.reserve(FLUSH_AFTER + 2 + MAX_KEY_LEN + 8 + 1);
            self.current.extend_from_slice(&self.header);
        }
        self.current.extend_from_slice(&len.to_be_bytes());
        self.current.extend_from_slice(key.as_bytes());
        self.current.extend_from_slice(&value.to_be_bytes());
        if self.current.len() > FLUSH_AFTER {
            self.done.push(std::mem::take(&mut self.current));
        }
        Ok(())
    }

    /// The interval's messages, in order (none if no point was pushed).
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}

/// One interval's TSK messages: the keys and values of the timeseries
/// format with prefix `label` and counters `columns`, on `channel`. A value
/// that does not fit in u64 is an error naming its key.
pub(crate) fn serialize(
    interval: &IntervalSeries,
    label: &str,
    columns: &[(Column, String)],
    channel: &str,
) -> Result<Vec<Vec<u8>>, TskError> {
    let time = interval.time;
    let mut batcher = Batcher::new(tsk_time(time)?, channel)?;
    timeseries::try_for_each_point(interval, label, columns, |key, value| {
        let v = u64::try_from(value).map_err(|_| TskError::ValueOutOfRange {
            key: key.to_string(),
            value,
            time,
        })?;
        batcher.push(key, v)
    })?;
    Ok(batcher.finish())
}

/// A decoded TSK message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The interval time.
    pub time: u32,
    /// The channel name.
    pub channel: String,
    /// The data points, in message order.
    pub points: Vec<(String, u64)>,
}

impl Batch {
    /// Decodes one message, checking magic, version and lengths as
    /// tsk-proxy does (and that keys and channel are UTF-8).
    pub fn parse(message: &[u8]) -> Result<Batch, TskError> {
        let mut r = Reader {
            buf: message,
            at: 0,
        };
        if r.take(MAGIC.len(), "magic")? != MAGIC {
            return Err(r.error(0, "does not start with TSKBATCH".into()));
        }
        let version = r.take(1, "version")?[0];
        if version != VERSION {
            return Err(r.error(8, format!("version {version}, expected {VERSION}")));
        }
        let time = r.u32()?;
        let channel = r.string("channel")?;
        let mut points = Vec::new();
        while r.at < message.len() {
            let key = r.string("key")?;
            points.push((key, r.u64()?));
        }
        Ok(Batch {
            time,
            channel,
            points,
        })
    }

    /// Appends the lines libtimeseries' ASCII backend prints for these
    /// points: `<key> <value> <time>`.
    pub fn ascii(&self, out: &mut Vec<u8>) {
        for (key, value) in &self.points {
            timeseries::push_line(out, key, i128::from(*value), i64::from(self.time));
        }
    }
}

/// A cursor over a message being decoded.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, offset: usize, what: String) -> TskError {
        TskError::Malformed { offset, what }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], TskError> {
        let rest = &self.buf[self.at..];
        if rest.len() < n {
            return Err(self.error(
                self.at,
                format!("{what} needs {n} bytes, only {} left", rest.len()),
            ));
        }
        self.at += n;
        Ok(&rest[..n])
    }

    fn u32(&mut self) -> Result<u32, TskError> {
        let b = self.take(4, "time")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, TskError> {
        let b = self.take(8, "value")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn string(&mut self, what: &str) -> Result<String, TskError> {
        let b = self.take(2, what)?;
        let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
        let start = self.at;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.error(start, format!("{what} is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowtuple::options::Class;
    use crate::flowtuple::series::{Counters, Key, SeriesRow};

    /// flowtuple v3's timeseries counters.
    fn v3() -> Vec<(Column, String)> {
        super::super::Columns::new(None).graphite
    }

    /// Bytes written out by hand from the format description.
    #[test]
    fn framing_byte_for_byte() {
        let mut b = Batcher::new(1_600_000_000, "ch").unwrap();
        b.push("a.b", 1).unwrap();
        b.push("k", 0x0102_0304_0506_0708).unwrap();
        let expected: Vec<u8> = vec![
            b'T', b'S', b'K', b'B', b'A', b'T', b'C', b'H', // magic
            0x00, // version
            0x5F, 0x5E, 0x10, 0x00, // 1600000000
            0x00, 0x02, b'c', b'h', // channel
            0x00, 0x03, b'a', b'.', b'b', // key
            0, 0, 0, 0, 0, 0, 0, 1, // value
            0x00, 0x01, b'k', // key
            1, 2, 3, 4, 5, 6, 7, 8, // value
        ];
        assert_eq!(b.finish(), vec![expected]);
        assert_eq!(message_key(1_600_000_000), [0x5F, 0x5E, 0x10, 0x00]);
    }

    #[test]
    fn no_point_no_message() {
        assert!(Batcher::new(5, "c").unwrap().finish().is_empty());
    }

    /// A 73-byte channel makes the header 88 bytes, so 5242 points of 100
    /// bytes fill a message to exactly 512 KiB: not yet passed. The 5243rd
    /// passes it and closes the message.
    #[test]
    fn a_message_closes_when_it_passes_512_kib() {
        let channel = "c".repeat(73);
        let mut b = Batcher::new(7, &channel).unwrap();
        for i in 0..6000u64 {
            b.push(&format!("{i:090}"), i).unwrap();
        }
        let msgs = b.finish();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].len(), 88 + 5243 * 100);
        assert_eq!(msgs[1].len(), 88 + 757 * 100);
        let (a, z) = (
            Batch::parse(&msgs[0]).unwrap(),
            Batch::parse(&msgs[1]).unwrap(),
        );
        assert_eq!((a.time, z.time), (7, 7));
        assert_eq!(
            (a.channel.as_str(), z.channel.as_str()),
            (&*channel, &*channel)
        );
        let all: Vec<_> = a.points.into_iter().chain(z.points).collect();
        assert_eq!(all.len(), 6000);
        for (i, (k, v)) in all.into_iter().enumerate() {
            assert_eq!((k, v), (format!("{i:090}"), i as u64));
        }
    }

    #[test]
    fn partition_is_minute_modulo_partitions() {
        assert_eq!(partition(0, 7), 0);
        assert_eq!(partition(59, 7), 0);
        assert_eq!(partition(60, 7), 1);
        assert_eq!(partition(1_600_000_000, 7), (1_600_000_000 / 60) % 7);
        assert_eq!(partition(u32::MAX, 1), 0);
    }

    fn interval(packets: i128) -> IntervalSeries {
        IntervalSeries {
            time: 1_600_000_300,
            rows: vec![SeriesRow {
                class: Class::Summary,
                key: Key::Overall,
                continent: None,
                counters: Counters {
                    packets,
                    bytes: 40,
                    uniq_src_ips: 1,
                    uniq_dst_ips: 2,
                    uniq_src_asns: 3,
                },
            }],
        }
    }

    #[test]
    fn serialize_sends_the_timeseries_points() {
        let iv = interval(7);
        let msgs = serialize(&iv, "lab", &v3(), "chan").unwrap();
        assert_eq!(msgs.len(), 1);
        let batch = Batch::parse(&msgs[0]).unwrap();
        let mut ascii = Vec::new();
        batch.ascii(&mut ascii);
        let mut text = Vec::new();
        timeseries::serialize(&iv, "lab", &v3(), &mut text);
        assert_eq!(
            String::from_utf8(ascii).unwrap(),
            String::from_utf8(text).unwrap()
        );
        assert_eq!(batch.channel, "chan");
        assert_eq!(batch.points[0], ("lab.overall.uniq_src_ip".to_string(), 1));
    }

    #[test]
    fn values_beyond_u64_are_errors_naming_the_key() {
        assert!(serialize(&interval(i128::from(u64::MAX)), "l", &v3(), "c").is_ok());
        for bad in [i128::from(u64::MAX) + 1, -1] {
            let e = serialize(&interval(bad), "l", &v3(), "c").unwrap_err();
            assert_eq!(
                e,
                TskError::ValueOutOfRange {
                    key: "l.overall.pkt_cnt".into(),
                    value: bad,
                    time: 1_600_000_300
                }
            );
            assert!(e.to_string().contains("l.overall.pkt_cnt"), "{e}");
        }
    }

    #[test]
    fn times_and_keys_out_of_range_are_errors() {
        let mut iv = interval(1);
        iv.time = -1;
        assert_eq!(
            serialize(&iv, "l", &v3(), "c"),
            Err(TskError::TimeOutOfRange(-1))
        );
        iv.time = 1 << 32;
        assert_eq!(
            serialize(&iv, "l", &v3(), "c"),
            Err(TskError::TimeOutOfRange(1 << 32))
        );
        let mut b = Batcher::new(1, "c").unwrap();
        assert!(b.push(&"k".repeat(MAX_KEY_LEN), 1).is_ok());
        let e = b.push(&"k".repeat(MAX_KEY_LEN + 1), 1).unwrap_err();
        assert!(matches!(e, TskError::KeyTooLong { len: 65535, .. }), "{e}");
    }

    #[test]
    fn parse_rejects_malformed_messages() {
        let good = Batcher::new(9, "c").unwrap();
        let mut good = good;
        good.push("ab", 5).unwrap();
        let msg = good.finish().remove(0);
        assert!(Batch::parse(&msg).is_ok());
        let offset = |m: &[u8]| match Batch::parse(m) {
            Err(TskError::Malformed { offset, .. }) => offset,
            other => panic!("{other:?}"),
        };
        assert_eq!(offset(b"TSKBATCX"), 0);
        let mut v1 = msg.clone();
        v1[8] = 1;
        assert_eq!(offset(&v1), 8);
        assert_eq!(offset(&msg[..msg.len() - 1]), 20);
        assert_eq!(offset(&msg[..5]), 0);
    }
}
