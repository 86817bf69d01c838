//! IDEA messages (CESNET's Intrusion Detection Extensible Alert, `IDEA0`,
//! the format NEMEA's reporters send to Warden) for episodes that start,
//! delivered by `warden_filer`'s directory protocol: each message is
//! written complete into `DIR/tmp/`, fsynced, then renamed into
//! `DIR/incoming/`, so a reader of `incoming/` never sees a partial file.
//!
//! Mandatory keys (idea.cesnet.cz/en/definition): `Format` (`"IDEA0"`),
//! `ID`, `DetectTime`, `Category`. The ID is derived from the tag,
//! protocol, side and start of the episode, so a message written again
//! (a run repeated after a crash) replaces the same file instead of making
//! a second alert.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Direction, Event, EventKind};
use crate::netprofile::error::Error;
use crate::netprofile::output::{create_temp, sync_dir};
use crate::netprofile::time::format_timestamp;

/// RFC 3339 UTC (`2018-08-24T19:19:20.737Z`) of µs since the epoch.
fn rfc3339(t: i64) -> String {
    format!("{}Z", format_timestamp(t))
}

/// FNV-1a, 64 bits, from `seed`.
fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A UUID-shaped ID (version 4 and variant bits set) of the episode.
pub fn message_id(tag: &str, e: &Event) -> String {
    let key = format!("{tag}\0{}\0{}\0{}", e.protocol, e.direction.key(), e.start);
    let a = fnv(0xcbf2_9ce4_8422_2325, key.as_bytes());
    let b = fnv(0x8422_2325_cbf2_9ce4, key.as_bytes());
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// The IDEA message of an episode's start (`node`: the reporting node's
/// name, e.g. `cz.example.netprofile`; `now_utc`: the check's clock).
pub fn message(tag: &str, e: &Event, node: &str, now_utc: i64) -> serde_json::Value {
    let side = match e.direction {
        Direction::Above => "above",
        Direction::Below => "below",
    };
    let figures: Vec<String> = e
        .figures
        .readings
        .iter()
        .map(|r| {
            format!(
                "{} {} (profile {:.0}, band {:.0}-{:.0})",
                r.metric, r.value, r.yhat, r.yhat_lower, r.yhat_upper
            )
        })
        .collect();
    json!({
        "Format": "IDEA0",
        "ID": message_id(tag, e),
        "CreateTime": rfc3339(now_utc),
        "DetectTime": rfc3339(e.figures.time),
        "EventTime": rfc3339(e.start),
        "Category": ["Anomaly.Traffic"],
        "Description": format!(
            "Traffic of tag {tag} ({}) {side} its profile for {} h",
            e.protocol, e.hours
        ),
        "Note": format!("{}; severity {:.2}", figures.join("; "), e.figures.severity),
        "Target": [{ "Proto": [e.protocol.key().to_lowercase()], "Note": format!("netprofile tag {tag}") }],
        "Node": [{ "Name": node, "SW": ["netprofile"], "Type": ["Flow", "Statistical"] }],
        "Attach": [{
            "Handle": "att1",
            "Note": "the alert line of netprofile's check",
            "ContentType": "application/json",
            "Content": e.to_json_line(tag),
        }],
    })
}

/// Writes the message of every start event of `events` into `dir/tmp/`
/// and renames it into `dir/incoming/` (both created when missing).
/// Returns the files written.
pub fn deliver(
    dir: &Path,
    tag: &str,
    events: &[Event],
    node: &str,
    now_utc: i64,
) -> Result<Vec<PathBuf>, Error> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    let (tmp, incoming) = (dir.join("tmp"), dir.join("incoming"));
    let mut written = Vec::new();
    for e in events.iter().filter(|e| e.kind == EventKind::Start) {
        fs::create_dir_all(&tmp).map_err(werr(&tmp))?;
        fs::create_dir_all(&incoming).map_err(werr(&incoming))?;
        let name = format!("{}.idea", message_id(tag, e));
        let (t, dest) = (tmp.join(&name), incoming.join(&name));
        let mut bytes = serde_json::to_vec(&message(tag, e, node, now_utc))
            .map_err(|e| Error::Internal(e.to_string()))?;
        bytes.push(b'\n');
        (|| {
            let mut f = create_temp(&t)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&t, &dest)
        })()
        .map_err(werr(&dest))?;
        written.push(dest);
    }
    if !written.is_empty() {
        sync_dir(&incoming);
    }
    Ok(written)
}
