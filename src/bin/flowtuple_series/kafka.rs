//! The Kafka sink: each interval's series, in libtimeseries' TSK format, to
//! topic `<prefix>.<channel>`, partitioned by time as libtimeseries does.
//! An interval counts as published once the broker has acknowledged all
//! its messages (acks=all). Async stays here: a small tokio runtime drives
//! the rskafka client, the rest of the program is synchronous.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use chrono::Utc;
use rskafka::client::partition::{
    Compression as WireCompression, PartitionClient, UnknownTopicHandling,
};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rskafka::BackoffConfig;
use telescope_core::flowtuple::format::tsk;
use telescope_core::flowtuple::{self, IntervalSeries, Renderer, RunError, RunStats};

use crate::files::{Outcome, Report};
use crate::flags;
use crate::messages;
use crate::options::{Compression, KafkaSettings as Settings, Options};
use crate::output::{Delivery, Ledger, Repeats};
use crate::progress;

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
        let topic = &settings.topic;
        let (client, partitions) = runtime
            .block_on(with_retries(settings.retry_for, || async move {
                let client = ClientBuilder::new(settings.brokers.clone())
                    .client_id("flowtuple-series")
                    .backoff_config(no_retries())
                    .build()
                    .await
                    .map_err(|e| plain_chain(&e))?;
                let topics = client.list_topics().await.map_err(|e| plain_chain(&e))?;
                let partitions = topics
                    .into_iter()
                    .find(|t| &t.name == topic)
                    .map(|t| t.partitions.len());
                Ok((client, partitions))
            }))
            .map_err(|cause| {
                anyhow!(
                    "cannot reach Kafka broker(s) {brokers} (gave up after retrying for {} s: {cause}); \
                     nothing was published",
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
        result.map_err(|cause| {
            let s = &self.settings;
            let mut msg = format!(
                "Kafka broker(s) {} did not acknowledge interval {time} on topic {} partition {partition} \
                 (gave up after retrying for {} s: {cause}); first interval not published: {time}",
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
            anyhow!(msg)
        })?;
        self.progress.intervals += 1;
        self.progress.last = Some(time);
        Ok(())
    }

    /// Sends `messages`, each retried until acknowledged or until
    /// `retry_for` has passed since its first try; the error is the last
    /// try's cause.
    fn send(&mut self, time: u32, partition: u32, messages: Vec<Vec<u8>>) -> Result<(), String> {
        let retry_for = self.settings.retry_for;
        let compression = match self.settings.compression {
            Compression::Snappy => WireCompression::Snappy,
            Compression::None => WireCompression::NoCompression,
        };
        let key = tsk::message_key(time).to_vec();
        let (client, clients, topic) = (&self.client, &mut self.clients, &self.settings.topic);
        self.runtime.block_on(async {
            if let Entry::Vacant(slot) = clients.entry(partition) {
                let id = i32::try_from(partition).map_err(|e| e.to_string())?;
                let pc = with_retries(retry_for, || async move {
                    client
                        .partition_client(topic.clone(), id, UnknownTopicHandling::Retry)
                        .await
                        .map_err(|e| plain_chain(&e))
                })
                .await?;
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
                let record = &record;
                with_retries(retry_for, || async move {
                    pc.produce(vec![record.clone()], compression)
                        .await
                        .map_err(|e| plain_chain(&e))
                })
                .await?;
            }
            Ok(())
        })
    }
}

/// rskafka's own retries off: a request fails at its first error, and
/// [`with_retries`] keeps the deadline (rskafka's gives up when its next
/// back-off would pass the deadline, well before it).
fn no_retries() -> BackoffConfig {
    BackoffConfig {
        init_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        base: 2.0,
        deadline: Some(Duration::ZERO),
    }
}

/// Runs `attempt` until it succeeds or `retry_for` has passed since the
/// first try, backing off 100 ms, doubling up to 2 s; a try still running
/// at the deadline is cut short. The error is the last try's (or "no
/// answer" when none ended).
async fn with_retries<T, F, Fut>(retry_for: Duration, mut attempt: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + retry_for;
    let mut backoff = Duration::from_millis(100);
    let mut last = None;
    loop {
        match tokio::time::timeout_at(deadline, attempt()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => last = Some(e),
            Err(_) => break,
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(backoff.min(deadline - now)).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
    Err(last.unwrap_or_else(|| "no answer".into()))
}

/// An error and its causes as one line, each said once: a cause that an
/// outer message already quotes is not repeated, and rskafka's retry
/// wording (its retries are off) is left out.
fn plain_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut texts = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next {
        texts.push(e.to_string());
        next = e.source();
    }
    let mut parts: Vec<String> = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let own = match texts.get(i + 1).and_then(|inner| text.find(inner.as_str())) {
            Some(at) => &text[..at],
            None => text.as_str(),
        };
        let own = own
            .replace("all retries failed", "")
            .replace("Retry exceeded deadline. Source", "");
        let own = own.trim_matches(|c: char| c == ':' || c == ' ' || c == '.');
        let own = own.trim_end_matches(':').trim();
        if !own.is_empty() && !parts.iter().any(|p| p.contains(own)) {
            parts.push(own.to_string());
        }
    }
    parts.join(": ")
}

/// Publishes the series of every input, one file after the other (each on
/// all threads). A bad file is reported and skipped, as when printing; a
/// broker that stays unreachable stops the run. A timestamp published
/// from an earlier input is not published again (the input is an error).
pub fn run(opts: &Options, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut report = Report::new(opts, Delivery::Published);
    let stopped = publish_all(opts, settings, &mut report).err();
    if let Some(e) = &stopped {
        progress::say(&format!("flowtuple-series: {}", messages::chain(e)));
    }
    let ok = report.finish() && stopped.is_none();
    Ok(match ok {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// Publishes every input in order; `Err` when the broker stopped the run.
fn publish_all(opts: &Options, settings: &Settings, report: &mut Report<'_>) -> anyhow::Result<()> {
    let mut publisher = Publisher::connect(settings)?;
    // Report rules' dense keys carry from one published interval to the
    // next, across files in the order given, as when printing.
    let mut renderer = Renderer::new(opts.formatter.clone(), &opts.series);
    let mut ledger = Ledger::default();
    for i in 0..opts.sources.len() {
        let mut file = FileRun {
            opts,
            settings,
            renderer: &mut renderer,
            ledger: &mut ledger,
            publisher: &mut publisher,
            repeats: Repeats::default(),
            published: 0,
        };
        let outcome = file.publish(i).inspect_err(|_| report.count_stopped())?;
        let (published, repeats) = (file.published, file.repeats);
        report.end(i, outcome, published, &repeats);
    }
    Ok(())
}

/// Why an interval was not published.
enum Refused {
    /// TSK cannot carry it: the input's error.
    Tsk(tsk::TskError),
    /// The broker did not take it: the run stops.
    Broker(anyhow::Error),
}

impl From<tsk::TskError> for Refused {
    fn from(e: tsk::TskError) -> Self {
        Refused::Tsk(e)
    }
}

/// Publishing one input.
struct FileRun<'a> {
    opts: &'a Options,
    settings: &'a Settings,
    renderer: &'a mut Renderer,
    ledger: &'a mut Ledger,
    publisher: &'a mut Publisher,
    repeats: Repeats,
    published: u64,
}

impl FileRun<'_> {
    /// Publishes input `i`'s intervals as they complete. The error stops
    /// the run (the broker); a bad input (or a value TSK cannot carry) is
    /// in the outcome, and the other inputs go on.
    fn publish(&mut self, i: usize) -> anyhow::Result<Outcome> {
        let started = Instant::now();
        let source = &self.opts.sources[i];
        let mut stats = RunStats::default();
        let input = match crate::input::open(source) {
            Ok(input) => input,
            Err(e) => return Ok(Outcome::of(Err(e), stats, started)),
        };
        let seen = &progress::COUNTERS.records;
        let (opts, threads) = (self.opts, self.opts.threads);
        let result =
            flowtuple::series_counted(input, &opts.series, threads, &mut stats, seen, |iv| {
                self.interval(i, iv)
            });
        progress::COUNTERS.files.fetch_add(1, Ordering::Relaxed);
        let result = match result {
            Ok(()) => Ok(()),
            Err(RunError::Input(e)) => Err(flags::input_error(e).context(source.to_string())),
            Err(RunError::Emit(Refused::Tsk(e))) => {
                Err(anyhow::Error::new(e).context(source.to_string()))
            }
            Err(RunError::Emit(Refused::Broker(e))) => return Err(e),
        };
        Ok(Outcome::of(result, stats, started))
    }

    /// Publishes one interval of input `i`, unless its timestamp was
    /// published before. A TSK error is the input's; the broker's stops
    /// the run.
    fn interval(&mut self, i: usize, interval: IntervalSeries) -> Result<(), Refused> {
        if !self.ledger.take(interval.time, i, &mut self.repeats) {
            return Ok(());
        }
        let time = interval.time;
        let messages = self.renderer.tsk(interval, &self.settings.channel)?;
        let time = tsk::tsk_time(time)?;
        self.publisher
            .publish(time, messages)
            .map_err(Refused::Broker)?;
        self.published += 1;
        Ok(())
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
