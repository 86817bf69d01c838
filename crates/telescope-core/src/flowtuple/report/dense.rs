//! Dense keys under report rules: every interval prints, zeros included,
//! every key corsaro's report plugin pre-creates for the mode's classes,
//! and every key printed in an earlier interval of the run (libtimeseries
//! keeps a key once added). Applied to complete intervals in print order,
//! after aggregation, so it costs only the rows it adds.
//!
//! Pre-created: all 256 protocols; every port the port options allow in
//! each port class (in `nonspoofed` only the popular ones, since the
//! popular-port test plays the role of corsaro's port ranges there); the
//! eight continents and the table's countries ([`rules::COUNTRY_CONTINENT`])
//! for each geo source in use. ICMP and ASN keys only once seen.

use super::rules;
use crate::flowtuple::filter::{is_popular_port, Transport};
use crate::flowtuple::options::{Class, PortSet, SeriesOptions};
use crate::flowtuple::series::{Counters, IntervalSeries, Key, SeriesRow};

/// The dense key set of each class, growing with the keys printed.
#[derive(Debug, Clone)]
pub(crate) struct Densifier {
    /// Per class of the mode, in class order: its keys, ascending.
    classes: Vec<(Class, Vec<Key>)>,
}

impl Densifier {
    /// The pre-created keys of `options`' mode.
    pub(crate) fn new(options: &SeriesOptions) -> Densifier {
        let classes = options.mode.classes(options.geo);
        let popular = options.mode.popular_ports_only();
        let ports = |transport: Transport, set: &Option<PortSet>| -> Vec<Key> {
            (0..=65_535)
                .filter(|&p| !popular || is_popular_port(transport, p))
                .filter(|&p| set.as_ref().is_none_or(|s| s.contains(p)))
                .map(|p| Key::Number(i64::from(p)))
                .collect()
        };
        let p = &options.ports;
        let keys = |class: Class| -> Vec<Key> {
            match class {
                Class::Summary | Class::Icmp | Class::Asn => Vec::new(),
                Class::IpProtocol => (0..256).map(Key::Number).collect(),
                Class::TcpSrcPorts => ports(Transport::Tcp, &p.tcp_src),
                Class::TcpDstPorts => ports(Transport::Tcp, &p.tcp_dst),
                Class::UdpSrcPorts => ports(Transport::Udp, &p.udp_src),
                Class::UdpDstPorts => ports(Transport::Udp, &p.udp_dst),
                Class::NetacqContinents | Class::MaxmindContinents => rules::CONTINENTS
                    .iter()
                    .map(|&c| Key::Geo(rules::tag2(c)))
                    .collect(),
                Class::NetacqCountries | Class::MaxmindCountries => rules::COUNTRY_CONTINENT
                    .iter()
                    .map(|&(c, _)| Key::Geo(rules::tag2(c)))
                    .collect(),
            }
        };
        Densifier {
            classes: classes.iter().map(|&c| (c, keys(c))).collect(),
        }
    }

    /// The number of keys every interval prints now (besides the summary).
    pub(crate) fn len(&self) -> usize {
        self.classes.iter().map(|(_, k)| k.len()).sum()
    }

    /// Adds a zero row for every dense key `interval` lacks, keeping keys
    /// ascending within each class, and keeps the interval's new keys for
    /// the intervals after it. Call it for printed intervals only, in print
    /// order.
    pub(crate) fn apply(&mut self, interval: &mut IntervalSeries) {
        let rows = std::mem::take(&mut interval.rows);
        let mut out = Vec::with_capacity(rows.len() + self.len());
        let mut rest = rows.as_slice();
        for (class, keys) in &mut self.classes {
            let n = rest.iter().take_while(|r| r.class == *class).count();
            let (mine, after) = rest.split_at(n);
            rest = after;
            let mut merged = Vec::with_capacity(keys.len() + mine.len());
            let mut grew = false;
            let (mut i, mut j) = (0, 0);
            while i < keys.len() || j < mine.len() {
                let take_row = j < mine.len() && (i >= keys.len() || mine[j].key <= keys[i]);
                if take_row {
                    let row = mine[j];
                    if i < keys.len() && keys[i] == row.key {
                        i += 1;
                    } else {
                        grew = true;
                    }
                    merged.push(row.key);
                    out.push(row);
                    j += 1;
                } else {
                    out.push(zero_row(*class, keys[i]));
                    merged.push(keys[i]);
                    i += 1;
                }
            }
            if grew {
                *keys = merged;
            }
        }
        // Rows of classes the mode does not print (none) stay at the end.
        out.extend_from_slice(rest);
        interval.rows = out;
    }
}

/// A row of zeros; a country's continent is the table's.
fn zero_row(class: Class, key: Key) -> SeriesRow {
    let continent = match (class, key) {
        (Class::NetacqCountries | Class::MaxmindCountries, Key::Geo(tag)) => {
            rules::country_continent(tag).or(Some(tag))
        }
        _ => None,
    };
    SeriesRow {
        class,
        key,
        continent,
        counters: Counters::default(),
    }
}
