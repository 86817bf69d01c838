//! The aggregated output: one row per (interval, class, key).

use super::options::Class;
use super::record::GeoTag;

/// A series key within its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// The summary's only key, `overall`.
    Overall,
    /// A protocol, port or ASN.
    Number(i64),
    /// An ICMP type and code.
    Icmp(i32, i32),
    /// A continent or country tag.
    Geo(GeoTag),
}

/// The counters of one series at one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Sum of `packet_cnt`.
    pub packets: i128,
    /// Sum of `packet_cnt * ip_len`.
    pub bytes: i128,
    /// Distinct source addresses (by the source counting method).
    pub uniq_src_ips: u64,
    /// Distinct destination addresses (by the destination counting method).
    pub uniq_dst_ips: u64,
    /// Distinct `prefix2asn` values, 0 included.
    pub uniq_src_asns: u64,
}

#[cfg(test)]
impl Counters {
    /// The counters in print order, for compact assertions.
    pub(crate) fn tuple(&self) -> (i128, i128, u64, u64, u64) {
        (
            self.packets,
            self.bytes,
            self.uniq_src_ips,
            self.uniq_dst_ips,
            self.uniq_src_asns,
        )
    }
}

/// One data point row: a class, a key and its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRow {
    /// The metric class.
    pub class: Class,
    /// The key within the class.
    pub key: Key,
    /// For country classes: the continent of the first counted record with
    /// this country in the interval (used by the timeseries format).
    pub continent: Option<GeoTag>,
    /// The counters.
    pub counters: Counters,
}

/// Every row of one complete interval, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalSeries {
    /// The interval's `time`.
    pub time: i64,
    /// Rows in class order, keys ascending.
    pub rows: Vec<SeriesRow>,
}
