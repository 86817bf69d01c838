//! Object stores as byte sources for the telescope tools: `s3://` (through
//! Apache Arrow's `object_store`), `swift://` (OpenStack Swift, with
//! Keystone v3, a given token or v1 auth) and plain `http(s)://`.
//!
//! Each object is handed over as an ordinary [`std::io::Read`]
//! ([`ObjectReader`]) fed by a task on this crate's own runtime through a
//! buffer of bounded size: nothing is written to disk, and callers need no
//! async code. Faults are retried and the read resumed at the byte reached
//! (see [`Patience`]). A prefix (a name ending in `/`) lists every object
//! under it, in the byte order of the full key.

mod error;
mod fetch;
mod http;
mod keystone;
mod location;
mod s3;
mod swift;

use std::fmt;
use std::sync::Arc;

pub use error::RemoteError;
pub use fetch::{ObjectReader, Patience};
pub use location::{redact, Location};

use fetch::{Fault, Response};
use object_store::aws::AmazonS3;

/// What a [`Remote`] is built from.
pub struct Settings {
    /// The environment (`AWS_*`, `OS_*`, `ST_*` are read; nothing else).
    pub vars: Vec<(String, String)>,
    /// Unsigned (anonymous) S3 requests, for public buckets.
    pub unsigned_s3: bool,
    /// Retry and stall times.
    pub patience: Patience,
}

/// The clients of every remote store, and the runtime their requests run
/// on (two worker threads).
pub struct Remote {
    runtime: tokio::runtime::Runtime,
    s3: s3::S3,
    swift: Arc<swift::Swift>,
    http: reqwest::Client,
    patience: Patience,
}

/// One object of one store, ready to be requested.
#[derive(Clone)]
pub(crate) enum Backend {
    S3 {
        store: Arc<AmazonS3>,
        shown: String,
        key: String,
    },
    Swift {
        swift: Arc<swift::Swift>,
        shown: String,
        container: String,
        object: String,
    },
    Http {
        client: reqwest::Client,
        shown: String,
        url: String,
    },
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::S3 { shown, .. }
            | Backend::Swift { shown, .. }
            | Backend::Http { shown, .. } => f.write_str(shown),
        }
    }
}

impl Backend {
    /// A GET from `offset`, with `If-Match: etag` when given.
    async fn get(&self, offset: u64, etag: Option<&str>) -> Result<Response, Fault> {
        match self {
            Backend::S3 { store, shown, key } => s3::S3::get(store, shown, key, offset, etag).await,
            Backend::Swift {
                swift,
                shown,
                container,
                object,
            } => swift.get(shown, container, object, offset, etag).await,
            Backend::Http { client, shown, url } => {
                let headers = reqwest::header::HeaderMap::new();
                let got = http::get(client, url, headers, offset, etag, shown, "URL").await?;
                got.ok_or_else(|| {
                    Fault::Fatal(RemoteError::Auth {
                        url: shown.clone(),
                        cause: "401".into(),
                        hint: "this server wants credentials; plain http(s) inputs are read \
                               without any"
                            .into(),
                    })
                })
            }
        }
    }
}

impl Remote {
    /// The clients `settings` describe (no request is made yet).
    pub fn new(settings: Settings) -> Result<Remote, RemoteError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("remote-io")
            .enable_all()
            .build()
            .map_err(|e| RemoteError::Config(format!("cannot start the I/O runtime: {e}")))?;
        let http = {
            let _guard = runtime.enter();
            reqwest::Client::builder()
                .connect_timeout(settings.patience.stall)
                .build()
                .map_err(|e| {
                    RemoteError::Config(format!("cannot set up HTTP: {}", error::chain(&e)))
                })?
        };
        Ok(Remote {
            s3: s3::S3::new(
                &settings.vars,
                settings.unsigned_s3,
                settings.patience.stall,
            ),
            swift: Arc::new(swift::Swift::new(http.clone(), &settings.vars)),
            http,
            runtime,
            patience: settings.patience,
        })
    }

    fn backend(&self, location: &Location) -> Result<Backend, RemoteError> {
        let shown = location.to_string();
        Ok(match location {
            Location::S3 { bucket, key } => Backend::S3 {
                store: self.s3.store(bucket)?,
                shown,
                key: key.clone(),
            },
            Location::Swift { container, object } => Backend::Swift {
                swift: Arc::clone(&self.swift),
                shown,
                container: container.clone(),
                object: object.clone(),
            },
            Location::Http(url) => Backend::Http {
                client: self.http.clone(),
                shown,
                url: url.clone(),
            },
        })
    }

    /// Starts reading the object at `location`, keeping at most `buffer`
    /// bytes fetched ahead of the reader. Errors of the read itself come
    /// from the reader's `read`.
    pub fn open(&self, location: &Location, buffer: usize) -> Result<ObjectReader, RemoteError> {
        let backend = self.backend(location)?;
        Ok(ObjectReader::start(
            self.runtime.handle(),
            backend,
            self.patience,
            buffer,
        ))
    }

    /// Every object under the prefix `location`, in the byte order of the
    /// full key, all listing pages read. A prefix with no object is a usage
    /// error naming it.
    /// A listing that fails for a reason retrying may fix (a reset, a 5xx)
    /// is read again from the start, for at most the retry time.
    pub fn list(&self, location: &Location) -> Result<Vec<Location>, RemoteError> {
        let started = std::time::Instant::now();
        let mut backoff = std::time::Duration::from_millis(100);
        let mut names = loop {
            match self.list_once(location) {
                Err(RemoteError::List { url, cause }) => {
                    let waited = started.elapsed();
                    if waited >= self.patience.retry_for {
                        return Err(RemoteError::List {
                            url,
                            cause: format!(
                                "{cause} (gave up after retrying for {} s: --remote-retry-secs)",
                                self.patience.retry_for.as_secs()
                            ),
                        });
                    }
                    std::thread::sleep(backoff.min(self.patience.retry_for - waited));
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
                }
                other => break other?,
            }
        };
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        names.dedup();
        if names.is_empty() {
            return Err(RemoteError::Usage(format!(
                "`{location}`: no object under this prefix"
            )));
        }
        Ok(names.into_iter().map(|n| location.with_name(n)).collect())
    }

    fn list_once(&self, location: &Location) -> Result<Vec<String>, RemoteError> {
        let shown = location.to_string();
        Ok(match location {
            Location::S3 { bucket, key } => {
                let store = self.s3.store(bucket)?;
                self.runtime.block_on(s3::S3::list(&store, &shown, key))?
            }
            Location::Swift { container, object } => self
                .runtime
                .block_on(self.swift.list(&shown, container, object))?,
            Location::Http(_) => {
                return Err(RemoteError::Usage(format!(
                    "`{shown}`: plain http(s) has no listing"
                )))
            }
        })
    }
}
