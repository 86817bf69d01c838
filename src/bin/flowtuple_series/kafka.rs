//! The Kafka sink: each interval's series, in libtimeseries' TSK format, to
//! topic `<prefix>.<channel>`, partitioned by time as libtimeseries does.
//! An interval counts as published once the broker has acknowledged all
//! its messages (acks=all). Async stays here: a small tokio runtime drives
//! the rskafka client, the rest of the program is synchronous.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use chrono::Utc;
use rskafka::client::partition::{
    Compression as WireCompression, PartitionClient, UnknownTopicHandling,
};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rskafka::BackoffConfig;
use telescope_core::flowtuple::format::tsk;
use telescope_core::flowtuple::{self, Compat, Densifier, FlowtupleError};

use crate::cli::{Options, Source};

/// How messages are compressed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Snappy, libtimeseries' default.
    Snappy,
    /// None.
    None,
}

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bootstrap brokers, `HOST:PORT`.
    pub brokers: Vec<String>,
    /// The topic, `<prefix>.<channel>`.
    pub topic: String,
    /// The channel named in every message.
    pub channel: String,
    /// Wire compression.
    pub compression: Compression,
    /// How long to keep retrying an unreachable broker.
    pub retry_for: Duration,
}

/// Checks a topic name as Kafka does: 1 to 249 of `A-Za-z0-9._-`, not
/// `.` or `..`.
pub fn check_topic(topic: &str) -> Result<(), String> {
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad Kafka topic `{topic}` (<prefix>.<channel>): use 1 to 249 letters, digits, `.`, `_` and `-`"
        ))
    }
}

/// What was published so far.
#[derive(Debug, Default)]
struct Progress {
    intervals: u64,
    last: Option<u32>,
}

/// A connected producer for one topic.
pub struct Publisher {
    runtime: tokio::runtime::Runtime,
    client: Client,
    settings: Settings,
    partitions: u32,
    clients: BTreeMap<u32, PartitionClient>,
    progress: Progress,
}

impl Publisher {
    /// Connects to the brokers and looks up the topic's partitions.
    pub fn connect(settings: &Settings) -> anyhow::Result<Publisher> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the Kafka client runtime")?;
        let brokers = settings.brokers.join(",");
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
            deadline: Some(settings.retry_for),
        };
        let limit = settings.retry_for + Duration::from_secs(5);
        let topic = &settings.topic;
        let (client, partitions) = runtime
            .block_on(async {
                let client = tokio::time::timeout(
                    limit,
                    ClientBuilder::new(settings.brokers.clone())
                        .client_id("flowtuple-series")
                        .backoff_config(backoff)
                        .build(),
                )
                .await
                .map_err(|_| anyhow!("no answer"))??;
                let topics = tokio::time::timeout(limit, client.list_topics())
                    .await
                    .map_err(|_| anyhow!("no answer"))??;
                let partitions = topics
                    .into_iter()
                    .find(|t| &t.name == topic)
                    .map(|t| t.partitions.len());
                anyhow::Ok((client, partitions))
            })
            .with_context(|| {
                format!(
                    "cannot reach Kafka broker(s) {brokers} (gave up after retrying for {} s); nothing was published",
                    settings.retry_for.as_secs()
                )
            })?;
        let partitions = match partitions {
            Some(n) if n > 0 => u32::try_from(n).context("too many partitions")?,
            _ => {
                return Err(anyhow!(
                    "Kafka topic `{topic}` does not exist on broker(s) {brokers} (or has no partitions); \
                     create it first; nothing was published"
                ))
            }
        };
        Ok(Publisher {
            runtime,
            client,
            settings: settings.clone(),
            partitions,
            clients: BTreeMap::new(),
            progress: Progress::default(),
        })
    }

    /// Publishes one interval's messages and waits until the broker has
    /// acknowledged every one.
    pub fn publish(&mut self, time: u32, messages: Vec<Vec<u8>>) -> anyhow::Result<()> {
        let partition = tsk::partition(time, self.partitions);
        let result = self.send(time, partition, messages);
        result.with_context(|| {
            let s = &self.settings;
            let mut msg = format!(
                "Kafka broker(s) {} did not acknowledge interval {time} on topic {} partition {partition} \
                 (gave up after retrying for {} s); first interval not published: {time}",
                s.brokers.join(","),
                s.topic,
                s.retry_for.as_secs()
            );
            match self.progress.last {
                Some(last) => {
                    let _ = write!(
                        msg,
                        "; {} earlier interval(s) were acknowledged, the last {last}",
                        self.progress.intervals
                    );
                }
                None => msg.push_str("; nothing was published"),
            }
            msg
        })?;
        self.progress.intervals += 1;
        self.progress.last = Some(time);
        Ok(())
    }

    fn send(&mut self, time: u32, partition: u32, messages: Vec<Vec<u8>>) -> anyhow::Result<()> {
        let limit = self.settings.retry_for + Duration::from_secs(5);
        let compression = match self.settings.compression {
            Compression::Snappy => WireCompression::Snappy,
            Compression::None => WireCompression::NoCompression,
        };
        let key = tsk::message_key(time).to_vec();
        let (client, clients, topic) = (&self.client, &mut self.clients, &self.settings.topic);
        self.runtime.block_on(async {
            if let Entry::Vacant(slot) = clients.entry(partition) {
                let id = i32::try_from(partition)?;
                let pc = tokio::time::timeout(
                    limit,
                    client.partition_client(topic.clone(), id, UnknownTopicHandling::Retry),
                )
                .await
                .map_err(|_| anyhow!("no answer"))??;
                slot.insert(pc);
            }
            let pc = &clients[&partition];
            // One message per request: a request is one record batch, and
            // brokers cap a batch at about 1 MB.
            for message in messages {
                let record = Record {
                    key: Some(key.clone()),
                    value: Some(message),
                    headers: BTreeMap::new(),
                    timestamp: Utc::now(),
                };
                tokio::time::timeout(limit, pc.produce(vec![record], compression))
                    .await
                    .map_err(|_| anyhow!("no answer"))??;
            }
            anyhow::Ok(())
        })
    }
}

/// Publishes the series of every input, one file after the other (each on
/// all threads). A bad file is reported and skipped, as when printing; a
/// broker that stays unreachable stops the run.
pub fn run(opts: &Options, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut publisher = Publisher::connect(settings)?;
    // Report rules' dense keys carry from one published interval to the
    // next, across files in the order given, as when printing.
    let mut dense = (opts.series.compat == Compat::Report).then(|| Densifier::new(&opts.series));
    let mut ok = true;
    for source in &opts.sources {
        if let Err(e) = publish_file(opts, settings, source, &mut dense, &mut publisher)? {
            eprintln!("flowtuple-series: {e:#}");
            ok = false;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Publishes one input's intervals as they complete. The outer error stops
/// the run (the broker); the inner one is a bad input (or a value TSK
/// cannot carry), after which the other inputs go on.
fn publish_file(
    opts: &Options,
    settings: &Settings,
    source: &Source,
    dense: &mut Option<Densifier>,
    publisher: &mut Publisher,
) -> anyhow::Result<Result<(), anyhow::Error>> {
    let input = match crate::open(source) {
        Ok(i) => i,
        Err(e) => return Ok(Err(e)),
    };
    let mut failed = None;
    let result = flowtuple::series(input, &opts.series, opts.threads, |mut interval| {
        if let Some(dense) = dense.as_mut() {
            dense.apply(&mut interval);
        }
        let messages = opts.formatter.tsk(&interval, &settings.channel)?;
        let time = tsk::tsk_time(interval.time)?;
        publisher.publish(time, messages).map_err(|e| {
            failed = Some(e);
            FlowtupleError::Output(io::Error::other("Kafka"))
        })
    });
    match (failed, result) {
        (Some(e), _) => Err(e),
        (None, Ok(_)) => Ok(Ok(())),
        (None, Err(e)) => Ok(Err(anyhow::Error::new(e).context(source.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::check_topic;

    #[test]
    fn topics_are_checked_as_kafka_does() {
        assert!(check_topic("tsk-production.ucsd_nt-1").is_ok());
        assert!(check_topic(&"a".repeat(249)).is_ok());
        for bad in ["", ".", "..", "a b", "a/b", "é", &"a".repeat(250)] {
            assert!(check_topic(bad).is_err(), "{bad}");
        }
    }
}
