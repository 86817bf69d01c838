//! One object's bytes, fetched in a task on the runtime and handed to a
//! synchronous [`ObjectReader`] through a buffer of bounded size. A reset,
//! a 5xx or a stall is retried with backoff and the read resumes at the byte
//! reached (`Range`, with `If-Match` on the first response's ETag), for at
//! most the retry time since the last byte arrived.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, Semaphore};

use crate::{Backend, RemoteError};

/// A response to a GET from a byte offset.
pub(crate) struct Response {
    /// The whole object's length, as the server announced it.
    pub total: u64,
    /// The object's ETag, if the server sent one.
    pub etag: Option<String>,
    /// The offset of the body's first byte (0 when a server ignored the
    /// range and sent the whole object).
    pub start: u64,
    /// The body.
    pub body: BoxStream<'static, Result<Bytes, String>>,
}

/// Why a request failed.
pub(crate) enum Fault {
    /// Retrying cannot help (403, 404, refused credentials, a changed
    /// object): the message is final.
    Fatal(RemoteError),
    /// A reset, a 5xx, a timeout: worth retrying. The cause, for the
    /// message if retrying runs out.
    Retry(String),
}

/// How long to wait and retry.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Total time retrying may take, counted from the last byte received
    /// (or the start) to giving up.
    pub retry_for: Duration,
    /// A read that gets no byte for this long is a stall (retried).
    pub stall: Duration,
}

/// What the fetch task sends: a piece of the object, or its failure.
type Piece = Result<Bytes, RemoteError>;

/// The reading end of an object being fetched.
pub struct ObjectReader {
    rx: mpsc::UnboundedReceiver<Piece>,
    room: Arc<Semaphore>,
    chunk: Bytes,
    /// Permits held by `chunk`, given back when it is used up.
    chunk_permits: usize,
    capacity: usize,
    failed: Option<RemoteError>,
}

impl ObjectReader {
    /// Starts fetching `backend`'s object on `rt`, buffering at most
    /// `capacity` bytes ahead of the reader.
    pub(crate) fn start(
        rt: &tokio::runtime::Handle,
        backend: Backend,
        patience: Patience,
        capacity: usize,
    ) -> ObjectReader {
        let capacity = capacity.clamp(1 << 16, Semaphore::MAX_PERMITS);
        let (tx, rx) = mpsc::unbounded_channel();
        let room = Arc::new(Semaphore::new(capacity));
        rt.spawn(fetch(backend, patience, tx, Arc::clone(&room), capacity));
        ObjectReader {
            rx,
            room,
            chunk: Bytes::new(),
            chunk_permits: 0,
            capacity,
            failed: None,
        }
    }
}

impl ObjectReader {
    /// Waits for the first bytes: a failure before any byte (404, 403,
    /// refused credentials, a server that never answers) is returned here.
    pub fn wait_start(&mut self) -> Result<(), RemoteError> {
        if self.chunk.is_empty() && self.failed.is_none() {
            match self.rx.blocking_recv() {
                None => {}
                Some(Ok(chunk)) => {
                    self.chunk_permits = chunk.len().min(self.capacity);
                    self.chunk = chunk;
                }
                Some(Err(e)) => self.failed = Some(e),
            }
        }
        match &self.failed {
            Some(e) if self.chunk.is_empty() => Err(e.clone()),
            _ => Ok(()),
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.chunk.is_empty() {
            if self.chunk_permits > 0 {
                self.room.add_permits(self.chunk_permits);
                self.chunk_permits = 0;
            }
            if let Some(e) = &self.failed {
                // The caller names the object.
                return Err(io::Error::other(e.detail()));
            }
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.chunk_permits = chunk.len().min(self.capacity);
                    self.chunk = chunk;
                }
                Some(Err(e)) => self.failed = Some(e),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        // Wakes a fetch waiting for room, which then stops.
        self.room.close();
    }
}

/// The first wait after a fault, doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The reading end as the fetch task sees it.
struct Sink {
    tx: mpsc::UnboundedSender<Piece>,
    room: Arc<Semaphore>,
    capacity: usize,
}

/// How far a fetch got.
struct Progress {
    /// Bytes handed to the reader.
    offset: u64,
    /// When the last byte arrived (or the fetch started).
    last: Instant,
}

/// How a response's body ended.
enum BodyEnd {
    /// The object is whole.
    Whole,
    /// The reader went away.
    Gone,
    /// A fault worth retrying, with its cause.
    Fault(String),
    /// A final error.
    Fatal(RemoteError),
}

/// Pieces up to this size are gathered from chunks already received, so
/// that the reader is woken once per piece rather than once per chunk.
const PIECE: usize = 256 << 10;

/// Fetches the object, resuming after faults, until it is whole, fails, or
/// the reader goes away.
async fn fetch(
    backend: Backend,
    patience: Patience,
    tx: mpsc::UnboundedSender<Piece>,
    room: Arc<Semaphore>,
    capacity: usize,
) {
    let sink = Sink { tx, room, capacity };
    let url = backend.to_string();
    let mut progress = Progress {
        offset: 0,
        last: Instant::now(),
    };
    let mut known: Option<(u64, Option<String>)> = None;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let offset = progress.offset;
        let etag = known.as_ref().and_then(|(_, e)| e.as_deref());
        let cause = match attempt(&backend, offset, etag, &known, patience).await {
            Err(Fault::Fatal(e)) => {
                let _ = sink.tx.send(Err(e));
                return;
            }
            Err(Fault::Retry(cause)) => cause,
            Ok(mut response) => {
                known.get_or_insert_with(|| (response.total, response.etag.clone()));
                match stream_body(&mut response, &mut progress, &sink, patience, &url).await {
                    BodyEnd::Whole | BodyEnd::Gone => return,
                    BodyEnd::Fatal(e) => {
                        let _ = sink.tx.send(Err(e));
                        return;
                    }
                    BodyEnd::Fault(cause) => {
                        if progress.offset > offset {
                            backoff = FIRST_BACKOFF;
                        }
                        cause
                    }
                }
            }
        };
        let waited = progress.last.elapsed();
        if waited >= patience.retry_for {
            let _ = sink.tx.send(Err(RemoteError::Failed {
                url,
                offset: progress.offset,
                cause: format!(
                    "{cause} (gave up after retrying for {} s: --remote-retry-secs)",
                    patience.retry_for.as_secs()
                ),
            }));
            return;
        }
        // The last wait ends at the limit, for one last try there.
        tokio::select! {
            _ = tokio::time::sleep(backoff.min(patience.retry_for - waited)) => {}
            _ = sink.tx.closed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Hands `response`'s body to the reader from `progress.offset` (skipping
/// what a server that ignored the range sent again), in pieces of up to
/// [`PIECE`] bytes, each waiting for room in the reader's buffer.
async fn stream_body(
    response: &mut Response,
    progress: &mut Progress,
    sink: &Sink,
    patience: Patience,
    url: &str,
) -> BodyEnd {
    let total = response.total;
    let mut skip = progress.offset - response.start;
    // An item found while gathering that is not a chunk (a fault, the end),
    // kept for the next turn: the stream is not polled past its end.
    let mut held: Option<Option<Result<Bytes, String>>> = None;
    loop {
        let next = match held.take() {
            Some(item) => Ok(item),
            None => tokio::time::timeout(patience.stall, response.body.next()).await,
        };
        let first = match next {
            Err(_) => {
                return BodyEnd::Fault(format!(
                    "no byte for {} s (stalled)",
                    patience.stall.as_secs()
                ))
            }
            Ok(None) if progress.offset == total => return BodyEnd::Whole,
            Ok(None) => {
                return BodyEnd::Fault(format!(
                    "the body ended early, at byte {} of {total}",
                    progress.offset
                ))
            }
            Ok(Some(Err(cause))) => return BodyEnd::Fault(cause),
            Ok(Some(Ok(chunk))) => trim(chunk, &mut skip),
        };
        // Gather what has arrived already; a fault or the end found here
        // comes back on the next call.
        let mut piece = BytesMut::new();
        let mut pending = Some(first);
        while let Some(chunk) = pending.take() {
            if piece.is_empty() && chunk.len() >= PIECE {
                piece = BytesMut::from(chunk);
                break;
            }
            piece.extend_from_slice(&chunk);
            if piece.len() >= PIECE {
                break;
            }
            match response.body.next().now_or_never() {
                None => {}
                Some(Some(Ok(more))) => pending = Some(trim(more, &mut skip)),
                Some(other) => held = Some(other),
            }
        }
        if piece.is_empty() {
            continue;
        }
        let piece = piece.freeze();
        if progress.offset + piece.len() as u64 > total {
            return BodyEnd::Fatal(RemoteError::Failed {
                url: url.to_string(),
                offset: progress.offset,
                cause: format!("more bytes than the {total} the server announced"),
            });
        }
        let permits = piece.len().min(sink.capacity) as u32;
        match sink.room.acquire_many(permits).await {
            Ok(p) => p.forget(),
            Err(_) => return BodyEnd::Gone,
        }
        progress.offset += piece.len() as u64;
        progress.last = Instant::now();
        if sink.tx.send(Ok(piece)).is_err() {
            return BodyEnd::Gone;
        }
    }
}

/// `chunk` without the first `skip` bytes (counted down).
fn trim(mut chunk: Bytes, skip: &mut u64) -> Bytes {
    let cut = (*skip).min(chunk.len() as u64) as usize;
    let _ = chunk.split_to(cut);
    *skip -= cut as u64;
    chunk
}

/// One request from `offset`, checked against what earlier responses said.
async fn attempt(
    backend: &Backend,
    offset: u64,
    etag: Option<&str>,
    known: &Option<(u64, Option<String>)>,
    patience: Patience,
) -> Result<Response, Fault> {
    let response = match tokio::time::timeout(patience.stall, backend.get(offset, etag)).await {
        Err(_) => {
            return Err(Fault::Retry(format!(
                "no response for {} s (stalled)",
                patience.stall.as_secs()
            )))
        }
        Ok(r) => r?,
    };
    if let Some((total, first_etag)) = known {
        let changed = response.total != *total
            || (first_etag.is_some() && response.etag.is_some() && response.etag != *first_etag);
        if changed {
            return Err(Fault::Fatal(RemoteError::Changed {
                url: backend.to_string(),
                offset,
            }));
        }
    }
    if response.start > offset {
        return Err(Fault::Retry(format!(
            "the server answered from byte {} instead of {offset}",
            response.start
        )));
    }
    Ok(response)
}
