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
    /// SHA-256 of the access key, base64-decoded (BLiP keys are base64 text): the key itself
    /// is not kept, and a configuration may give only this digest (`sha256:<hex>`).
    secret: KeyDigest,
    /// Digests of the REST `X-API-Key` values.
    api_keys: Vec<KeyDigest>,
    /// What the plan includes.
    pub features: Vec<Feature>,
    /// Commands a second over both faces (burst: one second's worth).
    pub max_commands_per_second: u32,
    /// The send window of campaigns created without one (`None`: they send any time).
    pub default_send_window: Option<crate::window::SendWindow>,
}

impl Tenant {
    pub fn new(
        id: String,
        identity: Identity,
        secret: KeyDigest,
        api_keys: Vec<KeyDigest>,
        features: Vec<Feature>,
    ) -> Tenant {
        Tenant {
            id,
            identity,
            secret,
            api_keys,
            features,
            max_commands_per_second: DEFAULT_COMMANDS_PER_SECOND,
            default_send_window: None,
        }
    }

    /// The tenant with a command rate other than [`DEFAULT_COMMANDS_PER_SECOND`].
    pub fn with_command_rate(self, per_second: u32) -> Tenant {
        Tenant { max_commands_per_second: per_second, ..self }
    }

    /// The tenant whose campaigns created without a window send in `window`.
    pub fn with_default_send_window(self, window: Option<crate::window::SendWindow>) -> Tenant {
        Tenant { default_send_window: window, ..self }
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
        self.secret_matches(&given)
    }

    /// Checks a decoded secret (the part after `:` of an HTTP `Key` token).
    pub fn secret_matches(&self, secret: &[u8]) -> bool {
        subtle::ConstantTimeEq::ct_eq(&digest(secret)[..], &self.secret[..]).into()
    }
}

/// A SHA-256 digest of a credential. Access keys are compared, and API keys indexed, by the
/// digest of what the client sent: the gateway needs only the digests (a configuration may
/// give nothing else), and a lookup's timing says nothing about the keys themselves.
pub type KeyDigest = [u8; 32];

/// The prefix of a credential given in the configuration as its digest.
pub const DIGEST_PREFIX: &str = "sha256:";

/// SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> KeyDigest {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// A configured credential: `sha256:<64 hex digits>` is its digest (`None` when malformed),
/// anything else the credential itself, whose digest is taken of `plain(value)`.
pub fn configured_digest(value: &str, plain: impl FnOnce(&str) -> Vec<u8>) -> Option<KeyDigest> {
    let Some(hex) = value.strip_prefix(DIGEST_PREFIX) else {
        return Some(digest(&plain(value)));
    };
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let nibble = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// The `Authorization: Key base64(identifier:secret)` the gateway sends to a tenant's own URLs
/// (`notification_url`, `message_url`); `None` when the config gives only the key's digest.
pub fn key_authorization(identifier: &str, access_key: &str) -> Option<String> {
    decode_base64(access_key).map(|secret| {
        let mut token = format!("{identifier}:").into_bytes();
        token.extend_from_slice(&secret);
        format!("Key {}", base64::engine::general_purpose::STANDARD.encode(token))
    })
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
                all.by_api_key.insert(*key, tenant.clone());
            }
        }
        all
    }

    pub fn by_identifier(&self, identifier: &str) -> Option<&Arc<Tenant>> {
        self.by_identifier.get(&identifier.to_ascii_lowercase())
    }

    pub fn by_api_key(&self, key: &str) -> Option<&Arc<Tenant>> {
        self.by_api_key.get(&digest(key.as_bytes()))
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
    fn digests_are_64_hex_digits_after_the_prefix() {
        let plain = |s: &str| s.as_bytes().to_vec();
        // `printf %s secret | sha256sum`
        let hex = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
        assert_eq!(configured_digest(&format!("sha256:{hex}"), plain), Some(digest(b"secret")));
        assert_eq!(configured_digest(&format!("sha256:{}", hex.to_uppercase()), plain), Some(digest(b"secret")));
        assert_eq!(configured_digest("secret", plain), Some(digest(b"secret")));
        for bad in [&hex[1..], &format!("{hex}0"), &format!("{}g", &hex[1..]), "", "é"] {
            assert_eq!(configured_digest(&format!("sha256:{bad}"), plain), None, "{bad:?}");
        }
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
