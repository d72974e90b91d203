//! Google service-account auth for RBM: the JSON key file, the OAuth 2.0 JWT bearer grant
//! against the key's own `token_uri`, and the access token cached until a minute before it
//! expires. Concurrent sends share one token and one refresh.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::secret::Secret;

/// The one scope the RBM API needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/rcsbusinessmessaging";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of the signed assertion (Google's maximum).
const ASSERTION_SECONDS: u64 = 3600;
/// A cached token is replaced this long before Google says it expires.
pub const REFRESH_EARLY: Duration = Duration::from_secs(60);
/// Longest token answer read (Google's are well under 4 KiB).
const MAX_TOKEN_ANSWER: usize = 64 * 1024;

/// A service account as its key file describes it. The private key never leaves this type:
/// `Debug` shows the account, not the key.
pub struct ServiceAccount {
    client_email: String,
    key_id: Option<String>,
    token_uri: String,
    key: EncodingKey,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount").field("client_email", &self.client_email).finish_non_exhaustive()
    }
}

/// The fields of Google's key file this gateway uses (the file has more).
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: String,
    private_key: Secret,
    private_key_id: Option<String>,
    token_uri: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl ServiceAccount {
    /// Reads and checks a key file. The error names what is wrong, never the key's content.
    pub fn load(path: &Path) -> Result<ServiceAccount, String> {
        let text = std::fs::read(path).map_err(|e| format!("cannot read \"{}\": {e}", path.display()))?;
        ServiceAccount::parse(&text).map_err(|e| format!("\"{}\" {e}", path.display()))
    }

    /// Parses a key file's JSON and checks that its key signs.
    pub fn parse(text: &[u8]) -> Result<ServiceAccount, String> {
        let file: KeyFile = serde_json::from_slice(text).map_err(|e| {
            // serde's messages may quote a value: only a missing field's name is repeated.
            let missing =
                e.to_string().split(" at line").next().filter(|m| m.starts_with("missing field")).map(str::to_owned);
            format!(
                "is not a Google service-account key file ({}, line {} column {})",
                missing.unwrap_or_else(|| "not the expected JSON".into()),
                e.line(),
                e.column()
            )
        })?;
        if file.kind.as_deref().is_some_and(|k| k != "service_account") {
            return Err("is not a service-account key (its \"type\" is not \"service_account\")".into());
        }
        if !(file.token_uri.starts_with("https://") || file.token_uri.starts_with("http://"))
            || reqwest::Url::parse(&file.token_uri).is_err()
        {
            return Err("has a \"token_uri\" that is not an http(s) URL".into());
        }
        if file.client_email.is_empty() {
            return Err("has an empty \"client_email\"".into());
        }
        let key = EncodingKey::from_rsa_pem(file.private_key.expose().as_bytes())
            .map_err(|_| "has a \"private_key\" that is not an RSA private key in PEM".to_owned())?;
        let account = ServiceAccount {
            client_email: file.client_email,
            key_id: file.private_key_id.filter(|k| !k.is_empty()),
            token_uri: file.token_uri,
            key,
        };
        // Signing once proves the key is usable (the PEM check alone does not parse it).
        account.assertion(0).map_err(|_| "has a \"private_key\" that cannot sign (not an RSA key)".to_owned())?;
        Ok(account)
    }

    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// The RS256 JWT of the bearer grant, issued at `iat` (seconds since the epoch).
    fn assertion(&self, iat: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        let claims =
            Claims { iss: &self.client_email, scope: SCOPE, aud: &self.token_uri, iat, exp: iat + ASSERTION_SECONDS };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The token endpoint refused the account (revoked key, disabled account): the channel
    /// cannot send until that changes.
    Refused(String),
    /// The endpoint could not be reached or failed: worth retrying.
    Unavailable(String),
}

/// An access token and when it stops being used.
#[derive(Clone)]
struct Cached {
    token: Secret,
    until: Instant,
}

/// The access tokens of one channel.
pub struct Tokens {
    account: ServiceAccount,
    http: reqwest::Client,
    /// Held while a token is fetched, so that concurrent sends wait for the one refresh.
    current: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenRefusal {
    error: Option<String>,
    error_description: Option<String>,
}

impl Tokens {
    pub fn new(account: ServiceAccount, http: reqwest::Client) -> Tokens {
        Tokens { account, http, current: Mutex::new(None) }
    }

    /// A token valid for at least another minute: the cached one, or a new one.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref().filter(|c| Instant::now() < c.until) {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *current = Some(fresh);
        Ok(token)
    }

    /// A token other than `stale`, which the API refused: a send that finds another one
    /// already fetched (by a concurrent send) uses it instead of fetching again.
    pub async fn refresh(&self, stale: &Secret) -> Result<Secret, TokenError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref().filter(|c| c.token != *stale && Instant::now() < c.until) {
            return Ok(c.token.clone());
        }
        *current = None;
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *current = Some(fresh);
        Ok(token)
    }

    /// Drops the cached token (the channel's probe starts from a new one).
    pub async fn forget(&self) {
        *self.current.lock().await = None;
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        let iat = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let assertion = self
            .account
            .assertion(iat)
            .map_err(|e| TokenError::Refused(format!("the service-account key cannot sign: {e}")))?;
        let form = [("grant_type", GRANT_TYPE), ("assertion", assertion.as_str())];
        let asked = Instant::now();
        let response = self.http.post(&self.account.token_uri).form(&form).send().await.map_err(|e| {
            TokenError::Unavailable(format!("token endpoint unreachable: {}", super::errors::transport(e)))
        })?;
        let status = response.status();
        let body = super::errors::read_limited(response, MAX_TOKEN_ANSWER).await.map_err(TokenError::Unavailable)?;
        if status.is_success() {
            let answer: TokenAnswer = serde_json::from_slice(&body)
                .map_err(|_| TokenError::Unavailable("the token endpoint's answer is not a token".into()))?;
            let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(ASSERTION_SECONDS));
            // From when it was asked for: the answer's own travel time is not on our side.
            let until = asked + lifetime.saturating_sub(REFRESH_EARLY);
            tracing::debug!(account = %self.account.client_email, ?lifetime, "RBM access token obtained");
            return Ok(Cached { token: Secret::new(answer.access_token), until });
        }
        let refusal: Option<TokenRefusal> = serde_json::from_slice(&body).ok();
        let what = refusal
            .map(|r| match (r.error, r.error_description) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                (Some(e), None) => e,
                (None, Some(d)) => d,
                (None, None) => String::new(),
            })
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        let what = super::errors::bounded(&what);
        if status.is_server_error() || status.as_u16() == 429 {
            Err(TokenError::Unavailable(format!("token endpoint: {what}")))
        } else {
            Err(TokenError::Refused(format!("token endpoint refused the service account: {what}")))
        }
    }
}
