//! OpenStack Swift: authentication as wandio does it (a token already
//! issued, Keystone v3 password, or Swift's v1 auth), object reads and
//! container listings. A token refused mid-run (401) is renewed once per
//! request when credentials to renew it are set.

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::chain;
use crate::fetch::{Fault, Response};
use crate::keystone::Password;
use crate::{http, RemoteError};

/// How to get a token.
#[derive(Clone)]
enum Login {
    /// Keystone v3 password authentication.
    Keystone(Password),
    /// Swift's v1 auth (`ST_AUTH`, `ST_USER`, `ST_KEY`).
    V1 {
        url: String,
        user: String,
        key: String,
    },
}

/// A token and the account URL it is for.
#[derive(Clone)]
struct Session {
    token: String,
    storage_url: String,
    /// Counts renewals, so that several requests refused at once renew
    /// once.
    generation: u64,
}

/// Swift, as the `OS_*` / `ST_*` environment configures it.
pub(crate) struct Swift {
    client: reqwest::Client,
    login: Option<Login>,
    storage_override: Option<String>,
    session: Mutex<Option<Session>>,
}

const WHAT_TO_SET: &str = "set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME \
     (Keystone v3), or OS_AUTH_TOKEN and OS_STORAGE_URL, or ST_AUTH, ST_USER and ST_KEY (v1 auth)";

impl Swift {
    /// Swift from `vars`. Which wins when several are set: a token given
    /// (`OS_AUTH_TOKEN` + `OS_STORAGE_URL`) is used first; Keystone v3
    /// credentials (else v1 credentials) get the first token when none is
    /// given and renew a refused one.
    pub(crate) fn new(client: reqwest::Client, vars: &[(String, String)]) -> Swift {
        let var = |name: &str| {
            vars.iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let keystone = match (
            var("OS_AUTH_URL"),
            var("OS_USERNAME"),
            var("OS_PASSWORD"),
            var("OS_PROJECT_NAME"),
        ) {
            (Some(auth_url), Some(user), Some(password), Some(project)) => {
                Some(Login::Keystone(Password {
                    auth_url,
                    user,
                    password,
                    project,
                    user_domain: var("OS_USER_DOMAIN_ID").unwrap_or_else(|| "default".into()),
                    project_domain: var("OS_PROJECT_DOMAIN_ID").unwrap_or_else(|| "default".into()),
                    region: var("OS_REGION_NAME"),
                    interface: var("OS_INTERFACE").unwrap_or_else(|| "public".into()),
                }))
            }
            _ => None,
        };
        let v1 = match (var("ST_AUTH"), var("ST_USER"), var("ST_KEY")) {
            (Some(url), Some(user), Some(key)) => Some(Login::V1 { url, user, key }),
            _ => None,
        };
        let storage_override = var("OS_STORAGE_URL").map(|u| u.trim_end_matches('/').to_string());
        let session = match (var("OS_AUTH_TOKEN"), &storage_override) {
            (Some(token), Some(storage_url)) => Some(Session {
                token,
                storage_url: storage_url.clone(),
                generation: 0,
            }),
            _ => None,
        };
        Swift {
            client,
            login: keystone.or(v1),
            storage_override,
            session: Mutex::new(session),
        }
    }

    /// The current session, logging in when there is none.
    async fn session(&self, shown: &str) -> Result<Session, RemoteError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = &*guard {
            return Ok(s.clone());
        }
        let s = self.login(shown, 0).await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// A new session after `refused` was refused (once, however many
    /// requests saw the refusal).
    async fn renew(&self, refused: &Session, shown: &str) -> Result<Session, RemoteError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = &*guard {
            if s.generation != refused.generation {
                return Ok(s.clone());
            }
        }
        let s = self.login(shown, refused.generation + 1).await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    async fn login(&self, shown: &str, generation: u64) -> Result<Session, RemoteError> {
        let auth_error = |url: &str, cause: String, hint: &str| RemoteError::Auth {
            url: url.to_string(),
            cause,
            hint: hint.to_string(),
        };
        let Some(login) = &self.login else {
            return Err(match generation {
                0 => RemoteError::Config(format!("{shown}: no Swift credentials: {WHAT_TO_SET}")),
                _ => auth_error(
                    shown,
                    "the token was refused (401)".into(),
                    "a bare OS_AUTH_TOKEN cannot be renewed: get a new token, or set \
                     credentials that can renew it (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, \
                     OS_PROJECT_NAME, or ST_AUTH, ST_USER, ST_KEY)",
                ),
            });
        };
        let (token, storage_url) = match login {
            Login::Keystone(p) => self.keystone(p).await?,
            Login::V1 { url, user, key } => {
                let shown_url = crate::location::redact(url);
                let r = self
                    .client
                    .get(url)
                    .header("X-Auth-User", user)
                    .header("X-Auth-Key", key)
                    .send()
                    .await
                    .map_err(|e| {
                        RemoteError::Config(format!("{shown_url}: {}", chain(&e.without_url())))
                    })?;
                if !r.status().is_success() {
                    return Err(auth_error(
                        &shown_url,
                        format!("status {}", r.status()),
                        "check ST_USER and ST_KEY",
                    ));
                }
                let h = |n| {
                    r.headers()
                        .get(n)
                        .and_then(|v: &HeaderValue| v.to_str().ok())
                        .map(str::to_string)
                };
                match (h("X-Auth-Token"), h("X-Storage-Url")) {
                    (Some(t), Some(s)) => (t, s),
                    _ => {
                        return Err(auth_error(
                            &shown_url,
                            "no X-Auth-Token / X-Storage-Url in the answer".into(),
                            "check ST_AUTH (it should be the v1 auth URL, e.g. http://HOST:8080/auth/v1.0)",
                        ))
                    }
                }
            }
        };
        let storage_url = self
            .storage_override
            .clone()
            .unwrap_or_else(|| storage_url.trim_end_matches('/').to_string());
        Ok(Session {
            token,
            storage_url,
            generation,
        })
    }

    async fn keystone(&self, p: &Password) -> Result<(String, String), RemoteError> {
        let url = p.tokens_url();
        let shown_url = crate::location::redact(&url);
        let r = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(p.request_body().to_string())
            .send()
            .await
            .map_err(|e| {
                RemoteError::Config(format!("{shown_url}: {}", chain(&e.without_url())))
            })?;
        let status = r.status();
        if !status.is_success() {
            return Err(RemoteError::Auth {
                url: shown_url,
                cause: format!("Keystone answered {status}"),
                hint: "check OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME and the domain ids \
                       (OS_USER_DOMAIN_ID, OS_PROJECT_DOMAIN_ID)"
                    .into(),
            });
        }
        let token = r
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = r.bytes().await.map_err(|e| {
            RemoteError::Config(format!(
                "{shown_url}: unreadable token response: {}",
                chain(&e.without_url())
            ))
        })?;
        let body: Value = serde_json::from_slice(&body).map_err(|e| {
            RemoteError::Config(format!("{shown_url}: unreadable token response: {e}"))
        })?;
        let token = token.ok_or_else(|| {
            RemoteError::Config(format!(
                "{shown_url}: no X-Subject-Token in Keystone's answer"
            ))
        })?;
        let storage = match &self.storage_override {
            Some(s) => s.clone(),
            None => p
                .storage_url(&body)
                .map_err(|e| RemoteError::Config(format!("{shown_url}: {e}")))?,
        };
        Ok((token, storage))
    }

    /// A GET of `container/object` from `offset`; a refused token is renewed
    /// once.
    pub(crate) async fn get(
        &self,
        shown: &str,
        container: &str,
        object: &str,
        offset: u64,
        etag: Option<&str>,
    ) -> Result<Response, Fault> {
        let mut session = self.session(shown).await.map_err(Fault::Fatal)?;
        for renewed in [false, true] {
            let url = format!(
                "{}/{}/{}",
                session.storage_url,
                encode(container),
                encode(object)
            );
            let got = http::get(
                &self.client,
                &url,
                token_header(&session.token),
                offset,
                etag,
                shown,
                "container and object names",
            )
            .await?;
            if let Some(response) = got {
                return Ok(response);
            }
            if renewed {
                break;
            }
            session = self.renew(&session, shown).await.map_err(Fault::Fatal)?;
        }
        Err(Fault::Fatal(RemoteError::Auth {
            url: shown.to_string(),
            cause: "the token was refused (401) after it was renewed".into(),
            hint: "check that these credentials may read this container".into(),
        }))
    }

    /// Every object name under `prefix` in `container` (all pages).
    pub(crate) async fn list(
        &self,
        shown: &str,
        container: &str,
        prefix: &str,
    ) -> Result<Vec<String>, RemoteError> {
        let mut session = self.session(shown).await?;
        let mut names: Vec<String> = Vec::new();
        let mut renewed = false;
        loop {
            let mut url = format!(
                "{}/{}?format=json&prefix={}",
                session.storage_url,
                encode(container),
                encode_query(prefix)
            );
            if let Some(last) = names.last() {
                url.push_str("&marker=");
                url.push_str(&encode_query(last));
            }
            let list_error = |cause: String| RemoteError::List {
                url: shown.to_string(),
                cause,
            };
            let r = self
                .client
                .get(&url)
                .headers(token_header(&session.token))
                .send()
                .await
                .map_err(|e| list_error(chain(&e.without_url())))?;
            let status = r.status();
            if status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                session = self.renew(&session, shown).await?;
                continue;
            }
            if status == StatusCode::NO_CONTENT {
                break;
            }
            if !status.is_success() {
                return Err(
                    match http::status_fault(status, shown, "container name", 0) {
                        // Final (a 4xx): not retried.
                        Err(Fault::Fatal(RemoteError::Failed { cause, .. })) => {
                            RemoteError::Config(format!("{shown}: cannot list: {cause}"))
                        }
                        Err(Fault::Fatal(e)) => e,
                        Err(Fault::Retry(cause)) => list_error(cause),
                        Ok(()) => RemoteError::Auth {
                            url: shown.to_string(),
                            cause: "the token was refused (401)".into(),
                            hint: WHAT_TO_SET.into(),
                        },
                    },
                );
            }
            let page = r
                .bytes()
                .await
                .map_err(|e| list_error(chain(&e.without_url())))?;
            let page: Value = serde_json::from_slice(&page)
                .map_err(|e| list_error(format!("unreadable listing: {e}")))?;
            let page = page
                .as_array()
                .ok_or_else(|| list_error("the listing is not a JSON array".into()))?;
            if page.is_empty() {
                break;
            }
            for item in page {
                // Pseudo-directories (`subdir`) come only with a delimiter,
                // which is not sent; every item names an object.
                if let Some(name) = item.get("name").and_then(Value::as_str) {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }
}

fn token_header(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(mut v) = HeaderValue::from_str(token) {
        v.set_sensitive(true);
        h.insert("X-Auth-Token", v);
    }
    h
}

/// Percent-encodes a path: everything but unreserved characters and `/`.
fn encode(s: &str) -> String {
    encode_except(s, b"-._~/")
}

/// Percent-encodes a query value: everything but unreserved characters.
fn encode_query(s: &str) -> String {
    encode_except(s, b"-._~")
}

fn encode_except(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_names() {
        assert_eq!(
            encode("datasource=ucsd-nt/year=2024/a b.avro"),
            "datasource%3Ducsd-nt/year%3D2024/a%20b.avro"
        );
        assert_eq!(encode_query("a/b&c"), "a%2Fb%26c");
    }
}
