//! Keystone v3 password authentication (as wandio's `keystone.c` does it):
//! the request body, and the token and object-store URL from the response.

use serde_json::{json, Value};

/// Keystone v3 password credentials, scoped to a project.
#[derive(Clone)]
pub(crate) struct Password {
    /// `OS_AUTH_URL` (with or without a trailing `/v3`).
    pub auth_url: String,
    /// `OS_USERNAME`.
    pub user: String,
    /// `OS_PASSWORD`.
    pub password: String,
    /// `OS_PROJECT_NAME`.
    pub project: String,
    /// `OS_USER_DOMAIN_ID` (default `default`).
    pub user_domain: String,
    /// `OS_PROJECT_DOMAIN_ID` (default `default`).
    pub project_domain: String,
    /// `OS_REGION_NAME`, to choose among object-store endpoints.
    pub region: Option<String>,
    /// `OS_INTERFACE` (default `public`).
    pub interface: String,
}

impl Password {
    /// The token request's URL: `OS_AUTH_URL` + `/auth/tokens`, with `/v3`
    /// added when the URL names no version.
    pub(crate) fn tokens_url(&self) -> String {
        let base = self.auth_url.trim_end_matches('/');
        if base.ends_with("/v3") {
            format!("{base}/auth/tokens")
        } else {
            format!("{base}/v3/auth/tokens")
        }
    }

    /// The body of `POST /v3/auth/tokens` (password method, project scope).
    pub(crate) fn request_body(&self) -> Value {
        json!({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.user,
                            "domain": { "id": self.user_domain },
                            "password": self.password,
                        }
                    }
                },
                "scope": {
                    "project": {
                        "name": self.project,
                        "domain": { "id": self.project_domain },
                    }
                }
            }
        })
    }

    /// The object-store endpoint of a token response's catalog: the
    /// `object-store` service's endpoint of the chosen interface (and
    /// region, when one is set).
    pub(crate) fn storage_url(&self, response: &Value) -> Result<String, String> {
        let catalog = response
            .pointer("/token/catalog")
            .and_then(Value::as_array)
            .ok_or("the token has no service catalog")?;
        let service = catalog
            .iter()
            .find(|s| s.get("type").and_then(Value::as_str) == Some("object-store"))
            .ok_or("the catalog has no object-store service: set OS_STORAGE_URL")?;
        let endpoints = service
            .get("endpoints")
            .and_then(Value::as_array)
            .ok_or("the object-store service lists no endpoints")?;
        let region_of = |e: &Value| {
            e.get("region_id")
                .or_else(|| e.get("region"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        endpoints
            .iter()
            .filter(|e| e.get("interface").and_then(Value::as_str) == Some(&self.interface))
            .find(|e| self.region.is_none() || region_of(e) == self.region)
            .and_then(|e| e.get("url").and_then(Value::as_str))
            .map(|u| u.trim_end_matches('/').to_string())
            .ok_or_else(|| {
                format!(
                    "no {} object-store endpoint{} in the catalog: set OS_INTERFACE, \
                     OS_REGION_NAME or OS_STORAGE_URL",
                    self.interface,
                    self.region
                        .as_deref()
                        .map(|r| format!(" in region {r}"))
                        .unwrap_or_default()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(region: Option<&str>) -> Password {
        Password {
            auth_url: "http://keystone.example:5000/v3/".into(),
            user: "alice".into(),
            password: "pw".into(),
            project: "telescope".into(),
            user_domain: "default".into(),
            project_domain: "default".into(),
            region: region.map(str::to_string),
            interface: "public".into(),
        }
    }

    #[test]
    fn request_is_keystones_password_project_scope() {
        // The request of Keystone's API reference ("Password authentication
        // with scoped authorization"), with our values.
        let expected: Value = serde_json::from_str(
            r#"{"auth": {"identity": {"methods": ["password"],
                "password": {"user": {"name": "alice", "domain": {"id": "default"},
                                      "password": "pw"}}},
                "scope": {"project": {"name": "telescope", "domain": {"id": "default"}}}}}"#,
        )
        .unwrap();
        assert_eq!(creds(None).request_body(), expected);
        assert_eq!(
            creds(None).tokens_url(),
            "http://keystone.example:5000/v3/auth/tokens"
        );
        let mut c = creds(None);
        c.auth_url = "https://k.example/identity".into();
        assert_eq!(c.tokens_url(), "https://k.example/identity/v3/auth/tokens");
    }

    /// The shape of the API reference's project-scoped token response.
    const RESPONSE: &str = r#"{"token": {
        "methods": ["password"],
        "roles": [{"id": "51cc68287d524c759f47c811e6463340", "name": "admin"}],
        "expires_at": "2015-11-07T02:58:43.578887Z",
        "project": {"domain": {"id": "default", "name": "Default"},
                    "id": "a6944d763bf64ee6a275f1263fae0352", "name": "admin"},
        "catalog": [
          {"endpoints": [
             {"region_id": "RegionOne", "url": "http://example.com/identity",
              "region": "RegionOne", "interface": "public",
              "id": "068d1b359ee84b438266cb736d81de97"}],
           "type": "identity", "id": "050726f278654128aba89757ae25910c", "name": "keystone"},
          {"endpoints": [
             {"region_id": "RegionOne", "url": "http://10.0.0.1:8080/v1/AUTH_a6944d76",
              "region": "RegionOne", "interface": "internal", "id": "1"},
             {"region_id": "RegionOne", "url": "https://swift.example/v1/AUTH_a6944d76",
              "region": "RegionOne", "interface": "public", "id": "2"},
             {"region_id": "RegionTwo", "url": "https://swift2.example/v1/AUTH_a6944d76/",
              "region": "RegionTwo", "interface": "public", "id": "3"}],
           "type": "object-store", "id": "3", "name": "swift"}],
        "extras": {},
        "user": {"domain": {"id": "default", "name": "Default"},
                 "id": "ee4dfb6e5540447cb3741905149d9b6e", "name": "admin",
                 "password_expires_at": "2016-11-06T15:32:17.000000"},
        "audit_ids": ["3T2dc1CGQxyJsHdDu1xkcw"],
        "issued_at": "2015-11-07T01:58:43.578929Z"}}"#;

    #[test]
    fn finds_the_object_store_endpoint() {
        let v: Value = serde_json::from_str(RESPONSE).unwrap();
        assert_eq!(
            creds(None).storage_url(&v).unwrap(),
            "https://swift.example/v1/AUTH_a6944d76"
        );
        assert_eq!(
            creds(Some("RegionTwo")).storage_url(&v).unwrap(),
            "https://swift2.example/v1/AUTH_a6944d76"
        );
        let mut internal = creds(None);
        internal.interface = "internal".into();
        assert_eq!(
            internal.storage_url(&v).unwrap(),
            "http://10.0.0.1:8080/v1/AUTH_a6944d76"
        );
        assert!(creds(Some("Nowhere")).storage_url(&v).is_err());
        let no_swift: Value = serde_json::from_str(r#"{"token": {"catalog": []}}"#).unwrap();
        assert!(creds(None)
            .storage_url(&no_swift)
            .unwrap_err()
            .contains("OS_STORAGE_URL"));
    }
}
