//! Remote input names: `s3://BUCKET/KEY`, `swift://CONTAINER/OBJECT`,
//! `http(s)://…`; a name ending in `/` is a prefix (S3 and Swift only).

use std::fmt;

use crate::RemoteError;

/// Where an object (or, ending in `/`, a prefix of objects) lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Location {
    /// An S3 bucket and key (the key may be a prefix ending in `/`).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key, or a prefix ending in `/`.
        key: String,
    },
    /// A Swift container and object name (or a prefix ending in `/`).
    Swift {
        /// The container.
        container: String,
        /// The object name, or a prefix ending in `/`.
        object: String,
    },
    /// A plain `http://` or `https://` URL, as given.
    Http(String),
}

impl Location {
    /// Whether `arg` names a remote input (by its scheme) rather than a
    /// local path.
    pub fn is_remote(arg: &str) -> bool {
        ["s3://", "swift://", "http://", "https://"]
            .iter()
            .any(|s| arg.len() >= s.len() && arg[..s.len()].eq_ignore_ascii_case(s))
    }

    /// Parses a remote name; a usage error says what is wrong with it.
    pub fn parse(arg: &str) -> Result<Location, RemoteError> {
        let lower = arg.to_ascii_lowercase();
        let bad = |why: &str| RemoteError::Usage(format!("`{}`: {why}", redact(arg)));
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let rest = &arg[arg.find("://").unwrap_or(0) + 3..];
            if rest.is_empty() || rest.starts_with('/') {
                return Err(bad("no host in the URL"));
            }
            if arg.ends_with('/') {
                return Err(bad(
                    "an http(s) URL ending in `/` would be a prefix, and plain HTTP has no \
                     listing: name each object (prefixes work with s3:// and swift://)",
                ));
            }
            return Ok(Location::Http(arg.to_string()));
        }
        let (scheme, rest) = arg.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let (first, name) = rest.split_once('/').unwrap_or((rest, ""));
        let what = if scheme.eq_ignore_ascii_case("s3") {
            ("bucket", "key")
        } else {
            ("container", "object")
        };
        if first.is_empty() {
            return Err(bad(&format!("no {} name", what.0)));
        }
        if name.is_empty() && !rest.ends_with('/') {
            return Err(bad(&format!(
                "no {} name: give {scheme}://{first}/{} (or end with `/` for every object)",
                what.1,
                what.1.to_ascii_uppercase()
            )));
        }
        let (first, name) = (first.to_string(), name.to_string());
        Ok(if scheme.eq_ignore_ascii_case("s3") {
            Location::S3 {
                bucket: first,
                key: name,
            }
        } else {
            Location::Swift {
                container: first,
                object: name,
            }
        })
    }

    /// Whether this names every object under a prefix (it ends in `/`, or
    /// names a whole bucket or container).
    pub fn is_prefix(&self) -> bool {
        match self {
            Location::S3 { key: n, .. } | Location::Swift { object: n, .. } => {
                n.is_empty() || n.ends_with('/')
            }
            Location::Http(_) => false,
        }
    }

    /// The same store and bucket/container with another key/object name.
    pub(crate) fn with_name(&self, name: String) -> Location {
        match self {
            Location::S3 { bucket, .. } => Location::S3 {
                bucket: bucket.clone(),
                key: name,
            },
            Location::Swift { container, .. } => Location::Swift {
                container: container.clone(),
                object: name,
            },
            Location::Http(_) => self.clone(),
        }
    }
}

impl fmt::Display for Location {
    /// The name as given, without any user:password or query string
    /// (which may hold a signature), so it can go into any message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Location::Swift { container, object } => write!(f, "swift://{container}/{object}"),
            Location::Http(url) => f.write_str(&redact(url)),
        }
    }
}

/// `url` without `user:password@` and with any query string shown as `?…`.
pub fn redact(url: &str) -> String {
    let Some(at) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(at + 3);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = match rest[..end].rfind('@') {
        Some(i) => &rest[i + 1..end],
        None => &rest[..end],
    };
    let tail = &rest[end..];
    let tail = match tail.find(['?', '#']) {
        Some(i) => format!("{}?…", &tail[..i]),
        None => tail.to_string(),
    };
    format!("{scheme}{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_scheme() {
        assert_eq!(
            Location::parse("s3://b/a/b=c/d.avro").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                key: "a/b=c/d.avro".into()
            }
        );
        let p = Location::parse("swift://telescope-2024/datasource=ucsd-nt/").unwrap();
        assert!(p.is_prefix());
        assert_eq!(p.to_string(), "swift://telescope-2024/datasource=ucsd-nt/");
        assert!(Location::parse("s3://bucket/").unwrap().is_prefix());
        assert!(Location::parse("s3://bucket").is_err());
        assert!(Location::parse("s3:///key").is_err());
        assert!(Location::parse("http://host/dir/").is_err());
        assert!(Location::is_remote("HTTPS://x/y"));
        assert!(!Location::is_remote("s3:/x"));
        assert!(!Location::is_remote("./s3://x"));
    }

    #[test]
    fn redacts_user_info_and_queries() {
        assert_eq!(
            redact("https://user:secret@host:8080/a/b?X-Amz-Signature=abc"),
            "https://host:8080/a/b?…"
        );
        assert_eq!(redact("http://host/a#frag"), "http://host/a?…");
        assert_eq!(redact("http://host"), "http://host");
        let l = Location::parse("https://u:p@h/x?sig=1").unwrap();
        assert_eq!(l.to_string(), "https://h/x?…");
    }
}
