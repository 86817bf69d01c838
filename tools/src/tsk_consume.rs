//! What went out to Kafka, read back: every TSK message of a topic (all
//! partitions, from the earliest kept offset to the end) as the lines
//! libtimeseries' ASCII backend would print for them, `<key> <value>
//! <time>`, intervals in time order. Bad messages (wrong magic, version,
//! channel or framing) are errors naming partition and offset. The
//! `tsk_consume` tool prints them; the Kafka integration tests compare them.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};
use rskafka::client::ClientBuilder;
use rskafka::BackoffConfig;
use telescope_core::flowtuple::format::tsk::Batch;

/// One Kafka message as fetched.
#[derive(Debug, Clone)]
pub struct Message {
    /// Partition.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// The message key.
    pub key: Option<Vec<u8>>,
    /// The message value.
    pub value: Vec<u8>,
}

/// Every message of `topic` on `brokers` (`HOST:PORT,...`), partition by
/// partition, in offset order.
pub fn fetch_all(brokers: &str, topic: &str) -> anyhow::Result<Vec<Message>> {
    let list: Vec<String> = brokers.split(',').map(str::to_string).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = ClientBuilder::new(list)
            .backoff_config(BackoffConfig {
                deadline: Some(Duration::from_secs(10)),
                ..BackoffConfig::default()
            })
            .build()
            .await
            .with_context(|| format!("cannot reach Kafka broker(s) {brokers}"))?;
        let partitions = client
            .list_topics()
            .await?
            .into_iter()
            .find(|t| t.name == topic)
            .ok_or_else(|| anyhow!("no topic `{topic}` on broker(s) {brokers}"))?
            .partitions;
        let mut out = Vec::new();
        for p in partitions {
            let pc = client
                .partition_client(topic, p, UnknownTopicHandling::Retry)
                .await?;
            let mut offset = pc.get_offset(OffsetAt::Earliest).await?;
            let end = pc.get_offset(OffsetAt::Latest).await?;
            while offset < end {
                let (records, _) = pc.fetch_records(offset, 1..64_000_000, 1_000).await?;
                if records.is_empty() {
                    bail!("partition {p}: no record at offset {offset} below the end {end}");
                }
                for r in records {
                    offset = offset.max(r.offset + 1);
                    out.push(Message {
                        partition: p,
                        offset: r.offset,
                        key: r.record.key,
                        value: r.record.value.unwrap_or_default(),
                    });
                }
            }
        }
        Ok(out)
    })
}

/// The ASCII lines of `messages`: each decoded (and, with `channel`,
/// checked to be of that channel), intervals in time order, each
/// interval's messages in fetch order.
pub fn ascii(messages: &[Message], channel: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let mut by_time: BTreeMap<u32, Vec<Batch>> = BTreeMap::new();
    for m in messages {
        let at = || format!("partition {} offset {}", m.partition, m.offset);
        let batch = Batch::parse(&m.value).with_context(at)?;
        if let Some(c) = channel {
            if batch.channel != c {
                bail!("{}: channel `{}`, expected `{c}`", at(), batch.channel);
            }
        }
        by_time.entry(batch.time).or_default().push(batch);
    }
    let mut out = Vec::new();
    for batch in by_time.values().flatten() {
        batch.ascii(&mut out);
    }
    Ok(out)
}
