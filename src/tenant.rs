//! Tenants (workspaces): who may connect, with which credentials, and what their plan allows.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use lime_protocol::Identity;

use crate::config::{decode_base64, Config, TenantConfig};

/// One workspace: the bot identity of the LIME face and the API keys of the REST face.
#[derive(Debug)]
pub struct Tenant {
    /// The identifier, as configured; also the tenant's key in the store.
    pub id: String,
    /// `{identifier}@{domain}`.
    pub identity: Identity,
    /// The access key, base64-decoded (BLiP keys are base64 text).
    secret: Vec<u8>,
    /// Plan includes campaign writes.
    pub campaigns_enabled: bool,
    pub config: TenantConfig,
}

impl Tenant {
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    by_api_key: HashMap<String, Arc<Tenant>>,
}

impl Tenants {
    pub fn from_config(config: &Config) -> Tenants {
        let mut tenants = Tenants::default();
        for t in &config.tenants {
            let tenant = Arc::new(Tenant {
                id: t.identifier.clone(),
                identity: Identity::new(t.identifier.clone(), config.domain.clone()),
                secret: decode_base64(&t.access_key).expect("validated by Config"),
                campaigns_enabled: t.features.iter().any(|f| f == "campaigns"),
                config: t.clone(),
            });
            tenants.by_identifier.insert(t.identifier.to_ascii_lowercase(), tenant.clone());
            for key in &t.api_keys {
                tenants.by_api_key.insert(key.clone(), tenant.clone());
            }
        }
        tenants
    }

    pub fn by_identifier(&self, identifier: &str) -> Option<&Arc<Tenant>> {
        self.by_identifier.get(&identifier.to_ascii_lowercase())
    }

    pub fn by_api_key(&self, key: &str) -> Option<&Arc<Tenant>> {
        self.by_api_key.get(key)
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
        Tenants::from_config(&Config::development())
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
}
