//! The config boundary: configured tenants, channels and templates turned into the model's
//! types. The model (`campaign`, `catalog`, `tenant`, …) never imports `config`; these
//! constructors live here so that the dependency goes one way only.

use lime_protocol::Identity;
use serde::{Deserialize, Deserializer};

use std::sync::Arc;
use std::time::Duration;

use super::{ChannelConfig, Config, ProviderKind, TemplateConfig};
use crate::campaign::ChannelType;
use crate::catalog::{ChannelDef, ParameterFormat, TemplateDef, TemplateStatus, HEADER_KINDS};
use crate::channel::settings::{
    Provider, Providers, RbmSettings, WhatsAppSettings, RBM_API_BASE, TEMPLATE_SYNC_DEFAULT, WHATSAPP_API_BASE,
    WHATSAPP_DEFAULT_PER_SECOND,
};
use crate::secret::Secret;
use crate::tenant::{configured_digest, decode_base64, Feature, KeyDigest, Tenant, Tenants};
use crate::window::SendWindow;

/// The digest an access key is compared by: `sha256:<hex>` as given, otherwise the SHA-256
/// of the key base64-decoded (the secret BLiP clients prove, in both of their forms).
/// `None`: a malformed digest or a key that is not base64.
pub(super) fn access_key_digest(access_key: &str) -> Option<KeyDigest> {
    if !access_key.starts_with(crate::tenant::DIGEST_PREFIX) && decode_base64(access_key).is_none() {
        return None;
    }
    configured_digest(access_key, |k| decode_base64(k).unwrap_or_default())
}

/// The digest an API key is looked up by: `sha256:<hex>` as given, otherwise the SHA-256
/// of the key's text. `None`: a malformed digest.
pub(super) fn api_key_digest(api_key: &str) -> Option<KeyDigest> {
    configured_digest(api_key, |k| k.as_bytes().to_vec())
}

/// `type = "whatsapp"` / `"google_rcs"` of a `[[tenants.channels]]` table.
pub(super) fn channel_type<'de, D: Deserializer<'de>>(d: D) -> Result<ChannelType, D::Error> {
    const NAMES: &[&str] = &["whatsapp", "google_rcs"];
    let name = String::deserialize(d)?;
    match name.as_str() {
        "whatsapp" => Ok(ChannelType::WhatsApp),
        "google_rcs" => Ok(ChannelType::GoogleRcs),
        _ => Err(serde::de::Error::unknown_variant(&name, NAMES)),
    }
}

impl Tenants {
    /// The tenants of a validated configuration.
    pub fn from_config(config: &Config) -> Tenants {
        Tenants::new(config.tenants.iter().map(|t| {
            Tenant::new(
                t.identifier.clone(),
                Identity::new(t.identifier.clone(), config.domain.clone()),
                access_key_digest(&t.access_key).expect("validated by Config"),
                t.api_keys.iter().map(|k| api_key_digest(k).expect("validated by Config")).collect(),
                t.features.iter().filter_map(|f| Feature::parse(f)).collect(),
            )
            .with_command_rate(t.max_commands_per_second)
            .with_default_send_window(
                t.default_send_window.as_ref().map(|w| SendWindow::parse(w).expect("validated by Config")),
            )
        }))
    }
}

impl ChannelDef {
    /// A configured channel (`created` is 0: the engine keeps the stored one).
    pub fn from_config(c: &ChannelConfig) -> ChannelDef {
        ChannelDef {
            id: c.id.clone(),
            channel_type: c.channel_type,
            provider: c.provider.as_str().into(),
            default: c.default,
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            delivered_after_ms: c.delivered_after_ms,
            read_after_ms: c.read_after_ms,
            max_per_second: c.max_per_second.or(match c.provider {
                ProviderKind::WhatsappCloud => Some(WHATSAPP_DEFAULT_PER_SECOND),
                _ => None,
            }),
            ledger: c.ledger.as_ref().map(|p| p.display().to_string()),
            created: 0,
        }
    }
}

impl Providers {
    /// The provider settings of every configured channel (validated: a real provider's
    /// required keys are there).
    pub fn from_config(config: &Config) -> Providers {
        let base = |given: &Option<String>, default: &str| {
            given.as_deref().filter(|b| !b.is_empty()).unwrap_or(default).trim_end_matches('/').to_owned()
        };
        let secret = |s: &Option<Secret>| s.clone().unwrap_or_else(|| Secret::new(""));
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        Providers::new(config.tenants.iter().flat_map(|t| {
            t.channels.iter().map(move |c| {
                let provider = match c.provider {
                    ProviderKind::Simulator => Provider::Simulator,
                    ProviderKind::WhatsappCloud => Provider::WhatsApp(Arc::new(WhatsAppSettings {
                        phone_number_id: text(&c.phone_number_id),
                        waba_id: c.waba_id.clone().filter(|w| !w.is_empty()),
                        access_token: secret(&c.access_token),
                        app_secret: secret(&c.app_secret),
                        verify_token: secret(&c.verify_token),
                        api_base: base(&c.api_base, WHATSAPP_API_BASE),
                        template_sync: c.template_sync_ms.map_or(TEMPLATE_SYNC_DEFAULT, Duration::from_millis),
                    })),
                    ProviderKind::GoogleRbm => Provider::Rbm(Arc::new(RbmSettings {
                        agent_id: text(&c.agent_id),
                        service_account_key: c.service_account_key.clone().unwrap_or_default(),
                        client_token: secret(&c.client_token),
                        api_base: base(&c.api_base, RBM_API_BASE),
                    })),
                };
                ((t.identifier.clone(), c.id.clone()), provider)
            })
        }))
    }
}

impl TemplateDef {
    /// A configured template (`created` is 0: the engine keeps the stored one). Its status
    /// was validated; one that was not (a `Config` built in code) counts as DISABLED.
    pub fn from_config(t: &TemplateConfig) -> TemplateDef {
        // `header` is a kind keyword, or (as before the keywords) the header's text.
        let (header_type, header) = match t.header.as_deref() {
            Some(kind) if HEADER_KINDS.contains(&kind) => (Some(kind.to_owned()), t.header_text.clone()),
            Some(text) => (Some("text".to_owned()), Some(text.to_owned())),
            None => (t.header_text.as_ref().map(|_| "text".to_owned()), t.header_text.clone()),
        };
        let buttons = (!t.buttons.is_empty()).then(|| {
            serde_json::Value::Array(
                t.buttons
                    .iter()
                    .map(|b| serde_json::json!({"type": b.kind.to_ascii_lowercase(), "dynamic": b.dynamic, "text": b.text}))
                    .collect(),
            )
        });
        let mut def = TemplateDef {
            id: t.id.clone(),
            channel_id: t.channel.clone(),
            name: t.name.clone(),
            language: t.language.clone(),
            status: TemplateStatus::parse(&t.status).unwrap_or(TemplateStatus::Disabled),
            category: t.category.clone(),
            header,
            body: t.body.clone(),
            parameters: 0,
            header_type,
            buttons,
            cards: t.cards,
            card_body: t.card_body.clone(),
            parameter_format: t.parameter_format.as_deref().and_then(ParameterFormat::parse).unwrap_or_default(),
            synced: false,
            created: 0,
        };
        def.parameters = t.parameters.unwrap_or_else(|| def.slot_count());
        def
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_tenants_channels_and_templates_convert() {
        let config = Config::development();
        let tenants = Tenants::from_config(&config);
        let bot = tenants.by_identifier("mybot").unwrap();
        assert!(bot.campaigns_enabled());
        let t = &config.tenants[0];
        let types: Vec<ChannelType> = t.channels.iter().map(|c| ChannelDef::from_config(c).channel_type).collect();
        assert!(types.contains(&ChannelType::WhatsApp) && types.contains(&ChannelType::GoogleRcs), "{types:?}");
        assert!(t.templates.iter().map(TemplateDef::from_config).any(|t| t.is_approved()));
    }

    #[test]
    fn keys_given_as_digests_authenticate_like_the_keys() {
        // `printf %s c2VjcmV0 | base64 -d | sha256sum` and `printf %s wk_test_123 | sha256sum`
        let text = "[[tenants]]\nidentifier = \"a\"\n\
            access_key = \"sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\"\n\
            api_keys = [\"sha256:b15f4128e41b6ea7a528641f6123e7b3d22c7313d348ea751fe77d10baeca103\", \"wk_plain_key\"]\n";
        let tenants = Tenants::from_config(&Config::parse(text).unwrap());
        let a = tenants.by_identifier("a").unwrap();
        assert!(a.key_matches("c2VjcmV0") && a.secret_matches(b"secret"));
        assert!(!a.key_matches("c2VjcmV1") && !a.secret_matches(b"secreT"));
        assert!(tenants.by_api_key("wk_plain_key").is_some());
        assert_eq!(tenants.by_api_key("wk_test_123").unwrap().id, "a");
        assert!(tenants
            .by_api_key("sha256:b15f4128e41b6ea7a528641f6123e7b3d22c7313d348ea751fe77d10baeca103")
            .is_none());
    }

    #[test]
    fn a_plan_without_features_has_no_campaigns() {
        let text = "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\nfeatures = []\n";
        let tenants = Tenants::from_config(&Config::parse(text).unwrap());
        assert!(!tenants.by_identifier("a").unwrap().campaigns_enabled());
    }
}
