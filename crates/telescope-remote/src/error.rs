//! What can go wrong with a remote input. Every message names the object
//! (never a credential) and, for a read that failed part-way, the byte
//! offset reached.

/// A remote input's failure.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// A bad name or an empty prefix: a usage error (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// Missing or unusable settings (credentials, endpoint).
    #[error("{0}")]
    Config(String),
    /// The server refused the credentials (401, or an auth service's
    /// refusal).
    #[error("{url}: authentication failed ({cause}); {hint}")]
    Auth {
        /// The object, prefix or auth URL.
        url: String,
        /// What the server said.
        cause: String,
        /// What to check or set.
        hint: String,
    },
    /// 403: the credentials work but may not read this.
    #[error("{url}: access denied (403); {hint}")]
    Denied {
        /// The object or prefix.
        url: String,
        /// What to check.
        hint: String,
    },
    /// 404: no such object, bucket or container.
    #[error("{url}: not found (404): check the {what}")]
    NotFound {
        /// The object or prefix.
        url: String,
        /// What to check: "bucket and key names", "URL", ….
        what: &'static str,
    },
    /// The object changed between two requests of one read (the ETag no
    /// longer matches): nothing of two versions is spliced.
    #[error("{url}: the object changed while it was read (at byte {offset}); read it again")]
    Changed {
        /// The object.
        url: String,
        /// Bytes read before the change was seen.
        offset: u64,
    },
    /// The read failed after retrying for the allowed time, or for a
    /// reason retrying cannot fix.
    #[error("{url}: read failed at byte {offset}: {cause}")]
    Failed {
        /// The object.
        url: String,
        /// Bytes read.
        offset: u64,
        /// Why.
        cause: String,
    },
    /// Listing a prefix failed.
    #[error("{url}: cannot list: {cause}")]
    List {
        /// The prefix.
        url: String,
        /// Why.
        cause: String,
    },
}

impl RemoteError {
    /// Whether this is a usage error (bad name, empty prefix).
    pub fn is_usage(&self) -> bool {
        matches!(self, RemoteError::Usage(_))
    }

    /// The message without the leading `URL: ` (for a reader's error,
    /// which its caller names already).
    pub fn detail(&self) -> String {
        let text = self.to_string();
        let url = match self {
            RemoteError::Auth { url, .. }
            | RemoteError::Denied { url, .. }
            | RemoteError::NotFound { url, .. }
            | RemoteError::Changed { url, .. }
            | RemoteError::Failed { url, .. }
            | RemoteError::List { url, .. } => url,
            RemoteError::Usage(_) | RemoteError::Config(_) => return text,
        };
        match text.strip_prefix(url.as_str()) {
            Some(rest) => rest.trim_start_matches(": ").to_string(),
            None => text,
        }
    }
}

/// The text of `e` and its sources, joined by `: ` (reqwest's errors give
/// their cause only in the chain).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = c.source();
    }
    s
}
