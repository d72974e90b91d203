//! Tenants (workspaces): who may connect, with which credentials, and what their plan allows.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use lime_protocol::Identity;

/// What a tenant's plan may include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// Campaign writes (without it: LIME 31, REST 403).
    Campaigns,
}

impl Feature {
    pub const ALL: [Feature; 1] = [Feature::Campaigns];

    /// `campaigns`, as the configuration file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Campaigns => "campaigns",
        }
    }

    pub fn parse(s: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Commands a second a tenant may send when its configuration does not say: BLiP's
/// documented ceiling, so a bot written for BLiP never meets a lower one here.
pub const DEFAULT_COMMANDS_PER_SECOND: u32 = 200;

/// One workspace: the bot identity of the LIME face and the API keys of the REST face.
#[derive(Debug)]
pub struct Tenant {
    /// The identifier, as configured; also the tenant's key in the store.
    pub id: String,
    /// `{identifier}@{domain}`.
    pub identity: Identity,
    /// The access key, base64-decoded (BLiP keys are base64 text).
    secret: Vec<u8>,
    /// REST `X-API-Key` values.
    api_keys: Vec<String>,
    /// What the plan includes.
    pub features: Vec<Feature>,
    /// Commands a second over both faces (burst: one second's worth).
    pub max_commands_per_second: u32,
}

impl Tenant {
    pub fn new(
        id: String,
        identity: Identity,
        secret: Vec<u8>,
        api_keys: Vec<String>,
        features: Vec<Feature>,
    ) -> Tenant {
        Tenant { id, identity, secret, api_keys, features, max_commands_per_second: DEFAULT_COMMANDS_PER_SECOND }
    }

    /// The tenant with a command rate other than [`DEFAULT_COMMANDS_PER_SECOND`].
    pub fn with_command_rate(self, per_second: u32) -> Tenant {
        Tenant { max_commands_per_second: per_second, ..self }
    }

    pub fn allows(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    /// Plan includes campaign writes.
    pub fn campaigns_enabled(&self) -> bool {
        self.allows(Feature::Campaigns)
    }

    /// Checks a key as BLiP clients send it (`key` scheme, or `plain` with the base64 password):
    /// decoded when it is base64, compared as given otherwise.
    pub fn key_matches(&self, key: &str) -> bool {
        let given = decode_base64(key).unwrap_or_else(|| key.as_bytes().to_vec());
        constant_time_eq(&given, &self.secret)
    }

    /// Checks a decoded secret (the part after `:` of an HTTP `Key` token).
    pub fn secret_matches(&self, secret: &[u8]) -> bool {
        constant_time_eq(secret, &self.secret)
    }
}

/// Equal in time independent of where the bytes differ (the length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// API keys are indexed by their SHA-256 digest: a lookup compares digests of what the
/// client sent, so its timing says nothing about the keys themselves.
type KeyDigest = [u8; 32];

fn digest(key: &str) -> KeyDigest {
    use sha2::Digest as _;
    sha2::Sha256::digest(key.as_bytes()).into()
}

/// Decodes standard or URL-safe base64, with or without padding.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|e| e.decode(s).ok())
}

/// Why an HTTP `Authorization` header was refused (the 401 message).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing Authorization header (expected \"Key <base64(identifier:accessKey)>\")")]
    Missing,
    #[error("the Authorization scheme must be Key")]
    WrongScheme,
    #[error("the Key token is not base64 of \"identifier:accessKey\"")]
    Malformed,
    #[error("unknown identifier or wrong access key")]
    Rejected,
}

/// All tenants, looked up by identifier or API key.
#[derive(Debug, Default)]
pub struct Tenants {
    by_identifier: HashMap<String, Arc<Tenant>>,
    by_api_key: HashMap<KeyDigest, Arc<Tenant>>,
}

impl Tenants {
    /// Indexes `tenants` by identifier (case-insensitively) and by each of their API keys.
    pub fn new(tenants: impl IntoIterator<Item = Tenant>) -> Tenants {
        let mut all = Tenants::default();
        for tenant in tenants {
            let tenant = Arc::new(tenant);
            all.by_identifier.insert(tenant.id.to_ascii_lowercase(), tenant.clone());
            for key in &tenant.api_keys {
                all.by_api_key.insert(digest(key), tenant.clone());
            }
        }
        all
    }

    pub fn by_identifier(&self, identifier: &str) -> Option<&Arc<Tenant>> {
        self.by_identifier.get(&identifier.to_ascii_lowercase())
    }

    pub fn by_api_key(&self, key: &str) -> Option<&Arc<Tenant>> {
        self.by_api_key.get(&digest(key))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_identifier.values()
    }

    /// Resolves `Authorization: Key <base64(identifier:base64decode(accessKey))>`.
    pub fn authenticate_http(&self, header: Option<&str>) -> Result<Arc<Tenant>, AuthError> {
        let header = header.ok_or(AuthError::Missing)?.trim();
        let (scheme, token) = header.split_once(' ').ok_or(AuthError::WrongScheme)?;
        if !scheme.eq_ignore_ascii_case("key") {
            return Err(AuthError::WrongScheme);
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()
            .or_else(|| decode_base64(token))
            .ok_or(AuthError::Malformed)?;
        let colon = decoded.iter().position(|&b| b == b':').ok_or(AuthError::Malformed)?;
        let identifier = std::str::from_utf8(&decoded[..colon]).map_err(|_| AuthError::Malformed)?;
        let secret = &decoded[colon + 1..];
        match self.by_identifier(identifier) {
            Some(t) if t.secret_matches(secret) => Ok(t.clone()),
            _ => Err(AuthError::Rejected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn tenants() -> Tenants {
        Tenants::from_config(&crate::Config::development())
    }

    #[test]
    fn key_matches_as_given_or_decoded() {
        let t = tenants();
        let bot = t.by_identifier("MyBot").unwrap();
        assert!(bot.key_matches("c2VjcmV0"));
        assert!(bot.key_matches("c2VjcmV0\n"));
        assert!(!bot.key_matches("c2VjcmV1"));
        assert!(!bot.key_matches(""));
    }

    #[test]
    fn http_key_token_is_identifier_and_decoded_key() {
        let t = tenants();
        let good = format!("Key {}", STANDARD.encode("mybot:secret"));
        assert_eq!(t.authenticate_http(Some(&good)).unwrap().id, "mybot");
        let wrong = format!("Key {}", STANDARD.encode("mybot:nope"));
        assert_eq!(t.authenticate_http(Some(&wrong)).unwrap_err(), AuthError::Rejected);
        assert_eq!(t.authenticate_http(None).unwrap_err(), AuthError::Missing);
        assert_eq!(t.authenticate_http(Some("Bearer abc")).unwrap_err(), AuthError::WrongScheme);
        assert_eq!(t.authenticate_http(Some("Key !!!")).unwrap_err(), AuthError::Malformed);
        let no_colon = format!("Key {}", STANDARD.encode("mybot"));
        assert_eq!(t.authenticate_http(Some(&no_colon)).unwrap_err(), AuthError::Malformed);
    }

    #[test]
    fn api_keys_find_their_workspace_and_nothing_else() {
        let t = tenants();
        assert_eq!(t.by_api_key("wk_test_123").unwrap().id, "mybot");
        for near in ["wk_test_12", "wk_test_1234", "WK_TEST_123", "", " wk_test_123"] {
            assert!(t.by_api_key(near).is_none(), "{near:?}");
        }
    }
}
