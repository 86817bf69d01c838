//! Ranged GETs over plain HTTP(S) with reqwest: for `http(s)://` inputs and
//! for Swift objects (a Swift object read is a GET with a token header).

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_MATCH, RANGE};
use reqwest::StatusCode;

use crate::error::chain;
use crate::fetch::{Fault, Response};
use crate::RemoteError;

/// A GET of `url` from byte `offset`, with `If-Match: etag` when given.
/// `shown` names the object in messages; `what` is what a 404 says to
/// check; a 401 is returned as `Ok(None)` for the caller to renew.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    offset: u64,
    etag: Option<&str>,
    shown: &str,
    what: &'static str,
) -> Result<Option<Response>, Fault> {
    let mut request = client.get(url).headers(headers);
    if offset > 0 {
        request = request.header(RANGE, format!("bytes={offset}-"));
    }
    if let Some(etag) = etag {
        request = request.header(IF_MATCH, etag);
    }
    let response = request
        .send()
        .await
        .map_err(|e| Fault::Retry(chain(&e.without_url())))?;
    let status = response.status();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header(ETAG);
    let (start, total) = match status {
        StatusCode::OK => {
            let total = header(CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
            let total = total.ok_or_else(|| {
                Fault::Fatal(RemoteError::Failed {
                    url: shown.to_string(),
                    offset,
                    cause: "the server announced no Content-Length, so a short read could \
                            not be told from a whole one"
                        .into(),
                })
            })?;
            (0, total)
        }
        StatusCode::PARTIAL_CONTENT => content_range(header(CONTENT_RANGE).as_deref())
            .ok_or_else(|| Fault::Retry("a 206 without a usable Content-Range".into()))?,
        StatusCode::RANGE_NOT_SATISFIABLE => {
            // Resuming exactly at the end: nothing more to read.
            match header(CONTENT_RANGE).as_deref().and_then(unsatisfied_total) {
                Some(total) if total == offset => (offset, total),
                // Shorter than the byte reached: not the object begun.
                _ if offset > 0 => {
                    return Err(Fault::Fatal(RemoteError::Changed {
                        url: shown.to_string(),
                        offset,
                    }))
                }
                _ => return Err(Fault::Retry(format!("status {status}"))),
            }
        }
        _ => return status_fault(status, shown, what, offset).map(|()| None),
    };
    let body = if status == StatusCode::RANGE_NOT_SATISFIABLE {
        futures_util::stream::empty().boxed()
    } else {
        response
            .bytes_stream()
            .map(|r| r.map_err(|e| chain(&e.without_url())))
            .boxed()
    };
    Ok(Some(Response {
        total,
        etag,
        start,
        body,
    }))
}

/// The fault for a non-success status (`Ok(())` for a 401, which the
/// caller may renew).
pub(crate) fn status_fault(
    status: StatusCode,
    shown: &str,
    what: &'static str,
    offset: u64,
) -> Result<(), Fault> {
    let url = shown.to_string();
    Err(match status.as_u16() {
        401 => return Ok(()),
        403 => Fault::Fatal(RemoteError::Denied {
            url,
            hint: "check that these credentials may read it".into(),
        }),
        404 => Fault::Fatal(RemoteError::NotFound { url, what }),
        412 => Fault::Fatal(RemoteError::Changed { url, offset }),
        408 | 429 | 500..=599 => Fault::Retry(format!("status {status}")),
        _ => Fault::Fatal(RemoteError::Failed {
            url,
            offset,
            cause: format!("status {status}"),
        }),
    })
}

/// `bytes START-END/TOTAL` → (START, TOTAL).
fn content_range(v: Option<&str>) -> Option<(u64, u64)> {
    let rest = v?.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()?))
}

/// `bytes */TOTAL` → TOTAL.
fn unsatisfied_total(v: &str) -> Option<u64> {
    v.trim().strip_prefix("bytes */")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_ranges() {
        assert_eq!(content_range(Some("bytes 100-199/1000")), Some((100, 1000)));
        assert_eq!(content_range(Some("bytes 100-199/*")), None);
        assert_eq!(content_range(None), None);
        assert_eq!(unsatisfied_total("bytes */1000"), Some(1000));
    }
}
