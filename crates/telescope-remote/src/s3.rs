//! S3 through Apache Arrow's `object_store`: settings from the `AWS_*`
//! environment (as `AmazonS3Builder::from_env` reads them), path-style
//! addressing unless asked otherwise, one client per bucket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, RetryConfig};

use crate::error::chain;
use crate::fetch::{Fault, Response};
use crate::RemoteError;

/// The variables that give credentials (one is needed unless unsigned).
const CREDENTIAL_VARS: [&str; 4] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

/// S3 clients, one per bucket, built on first use.
pub(crate) struct S3 {
    vars: Vec<(String, String)>,
    unsigned: bool,
    connect_timeout: Duration,
    stores: Mutex<HashMap<String, Arc<AmazonS3>>>,
}

impl S3 {
    /// S3 as `vars` (the `AWS_*` environment) configure it; `unsigned`:
    /// anonymous requests (public buckets).
    pub(crate) fn new(vars: &[(String, String)], unsigned: bool, connect_timeout: Duration) -> S3 {
        S3 {
            vars: vars
                .iter()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .cloned()
                .collect(),
            unsigned,
            connect_timeout,
            stores: Mutex::new(HashMap::new()),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The client for `bucket`.
    pub(crate) fn store(&self, bucket: &str) -> Result<Arc<AmazonS3>, RemoteError> {
        let mut stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = stores.get(bucket) {
            return Ok(Arc::clone(s));
        }
        if !self.unsigned && !CREDENTIAL_VARS.iter().any(|v| self.var(v).is_some()) {
            return Err(RemoteError::Config(format!(
                "s3://{bucket}: no S3 credentials: set AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for a non-AWS endpoint), \
                 or read a public bucket with --no-sign-request"
            )));
        }
        let endpoint = self.var("AWS_ENDPOINT_URL").or(self.var("AWS_ENDPOINT"));
        let allow_http = self
            .var("AWS_ALLOW_HTTP")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if endpoint.is_some_and(|e| e.to_ascii_lowercase().starts_with("http://")) && !allow_http {
            return Err(RemoteError::Config(format!(
                "s3://{bucket}: AWS_ENDPOINT_URL is a plain http:// endpoint: set \
                 AWS_ALLOW_HTTP=true to allow unencrypted requests"
            )));
        }
        let options = ClientOptions::new()
            .with_timeout_disabled()
            .with_connect_timeout(self.connect_timeout);
        // No retries inside object_store: the fetch loop retries and
        // resumes every kind of fault the same way, within one time bound.
        let retry = RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_client_options(options)
            .with_retry(retry);
        for (k, v) in &self.vars {
            if let Ok(key) = k.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, v);
            }
        }
        // object_store addresses path-style by default (what a custom
        // endpoint needs); the AWS SDKs' switch is honoured too.
        match self
            .var("AWS_S3_FORCE_PATH_STYLE")
            .map(str::to_ascii_lowercase)
        {
            Some(v) if v == "true" || v == "1" => {
                builder = builder.with_virtual_hosted_style_request(false)
            }
            Some(v) if v == "false" || v == "0" => {
                builder = builder.with_virtual_hosted_style_request(true)
            }
            _ => {}
        }
        let store = builder
            .with_bucket_name(bucket)
            .with_skip_signature(self.unsigned)
            .build()
            .map_err(|e| RemoteError::Config(format!("s3://{bucket}: {}", chain(&e))))?;
        let store = Arc::new(store);
        stores.insert(bucket.to_string(), Arc::clone(&store));
        Ok(store)
    }

    /// A GET of `key` from `offset`.
    pub(crate) async fn get(
        store: &AmazonS3,
        shown: &str,
        key: &str,
        offset: u64,
        etag: Option<&str>,
    ) -> Result<Response, Fault> {
        let path = Path::parse(key).map_err(|e| {
            Fault::Fatal(RemoteError::Usage(format!(
                "`{shown}`: a key this client cannot name: {e}"
            )))
        })?;
        let options = GetOptions {
            range: (offset > 0).then_some(GetRange::Offset(offset)),
            if_match: etag.map(str::to_string),
            ..GetOptions::default()
        };
        let result = store
            .get_opts(&path, options)
            .await
            .map_err(|e| fault(e, shown, offset))?;
        Ok(Response {
            total: result.meta.size,
            etag: result.meta.e_tag.clone(),
            start: result.range.start,
            body: result.into_stream().map_err(|e| chain(&e)).boxed(),
        })
    }

    /// Every key under `prefix` (all pages), as listed.
    pub(crate) async fn list(
        store: &AmazonS3,
        shown: &str,
        prefix: &str,
    ) -> Result<Vec<String>, RemoteError> {
        let path = Path::parse(prefix).map_err(|e| {
            RemoteError::Usage(format!("`{shown}`: a prefix this client cannot name: {e}"))
        })?;
        let prefix = (!prefix.is_empty()).then_some(&path);
        let mut listing = store.list(prefix);
        let mut keys = Vec::new();
        while let Some(meta) = listing.next().await {
            match meta {
                Ok(meta) => keys.push(meta.location.as_ref().to_string()),
                Err(e) => {
                    return Err(match fault(e, shown, 0) {
                        // Final (a 4xx): not retried.
                        Fault::Fatal(RemoteError::Failed { cause, .. }) => {
                            RemoteError::Config(format!("{shown}: cannot list: {cause}"))
                        }
                        Fault::Fatal(e) => e,
                        Fault::Retry(cause) => RemoteError::List {
                            url: shown.to_string(),
                            cause,
                        },
                    });
                }
            }
        }
        Ok(keys)
    }
}

/// What an `object_store` error means for the fetch loop.
fn fault(e: object_store::Error, shown: &str, offset: u64) -> Fault {
    use object_store::Error as E;
    let status = match &e {
        E::NotFound { .. } => Some(404),
        E::PermissionDenied { .. } => Some(403),
        E::Unauthenticated { .. } => Some(401),
        E::Precondition { .. } => Some(412),
        // Listings (and a few other paths) name the status only in the
        // message.
        e => status_in(&chain(e)),
    };
    let url = shown.to_string();
    match status {
        Some(404) => Fault::Fatal(RemoteError::NotFound {
            url,
            what: "bucket and key names (and AWS_ENDPOINT_URL)",
        }),
        Some(403) => Fault::Fatal(RemoteError::Denied {
            url,
            hint: "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (a wrong key pair is \
                   refused this way too) and that they may read this bucket"
                .into(),
        }),
        Some(401) => Fault::Fatal(RemoteError::Auth {
            url,
            cause: "401".into(),
            hint: "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN".into(),
        }),
        // 416 on a resume: the object is now shorter than the byte reached.
        Some(412) => Fault::Fatal(RemoteError::Changed { url, offset }),
        Some(416) if offset > 0 => Fault::Fatal(RemoteError::Changed { url, offset }),
        Some(s) if (400..500).contains(&s) && s != 408 && s != 429 => {
            Fault::Fatal(RemoteError::Failed {
                url,
                offset,
                cause: chain(&e),
            })
        }
        _ => Fault::Retry(chain(&e)),
    }
}

/// The HTTP status in object_store's "non-2xx status code: NNN" message.
fn status_in(text: &str) -> Option<u16> {
    let at = text.find("status code: ")? + "status code: ".len();
    text.get(at..at + 3)?.parse().ok()
}
