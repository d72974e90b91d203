//! The rules of a configuration that serde cannot express: value ranges, formats,
//! uniqueness and references between tenants, channels and templates.

use std::collections::HashSet;

use super::conversion::{access_key_digest, api_key_digest};
use super::{decode_base64, ChannelConfig, Config, ProviderKind, StorageKind, TemplateConfig};
use crate::campaign::ChannelType;
use crate::catalog::{ParameterFormat, TemplateStatus};
use crate::secret::Secret;
use crate::tenant::{Feature, DIGEST_PREFIX};

/// Upper bound of every time setting: a day.
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Upper bound of `[[tenants]] max_commands_per_second`: well above what one node answers
/// (about 300,000 commands a second), so that it lifts the ceiling in practice.
const MAX_COMMANDS_PER_SECOND: u32 = 1_000_000;

impl Config {
    /// Rules serde cannot express: uniqueness, references, formats.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let err = |key: String, msg: String| Err((key, msg));
        if self.domain.is_empty() || self.domain.contains(['@', '/', ' ']) {
            return err("domain".into(), format!("\"{}\" is not a domain name", self.domain));
        }
        if self.instance.is_empty() || self.instance.contains(['@', '/', ' ']) {
            return err("instance".into(), format!("\"{}\" is not a valid instance name", self.instance));
        }
        if self.default_country_code.is_empty()
            || self.default_country_code.len() > 3
            || !self.default_country_code.bytes().all(|b| b.is_ascii_digit())
            || self.default_country_code.starts_with('0')
        {
            return err(
                "default_country_code".into(),
                format!("\"{}\" is not a country calling code (1 to 3 digits, e.g. \"55\")", self.default_country_code),
            );
        }
        let l = &self.limits;
        for (name, value) in [
            ("max_envelope_bytes", l.max_envelope_bytes as u64),
            ("max_connections", l.max_connections as u64),
            ("max_inflight_per_session", l.max_inflight_per_session as u64),
            ("outbound_queue", l.outbound_queue as u64),
            ("handshake_timeout_ms", l.handshake_timeout_ms),
            ("command_timeout_ms", l.command_timeout_ms),
            ("idle_ping_ms", l.idle_ping_ms),
            ("ping_timeout_ms", l.ping_timeout_ms),
            ("write_timeout_ms", l.write_timeout_ms),
            ("max_http_inflight", l.max_http_inflight as u64),
            ("max_tenant_inflight", l.max_tenant_inflight as u64),
            ("shutdown_drain_ms", l.shutdown_drain_ms),
            ("max_event_streams", l.max_event_streams as u64),
            ("event_keepalive_ms", l.event_keepalive_ms),
        ] {
            if value == 0 {
                return err(format!("limits.{name}"), "must be greater than 0".into());
            }
        }
        // Bounds that keep every limit representable (semaphores, queues, timers).
        for (name, value, max) in [
            ("max_envelope_bytes", l.max_envelope_bytes as u64, 1u64 << 30),
            ("max_connections", l.max_connections as u64, 1_000_000),
            ("max_inflight_per_session", l.max_inflight_per_session as u64, 1_000_000),
            ("outbound_queue", l.outbound_queue as u64, 1_000_000),
            ("handshake_timeout_ms", l.handshake_timeout_ms, DAY_MS),
            ("command_timeout_ms", l.command_timeout_ms, DAY_MS),
            ("idle_ping_ms", l.idle_ping_ms, DAY_MS),
            ("ping_timeout_ms", l.ping_timeout_ms, DAY_MS),
            ("write_timeout_ms", l.write_timeout_ms, DAY_MS),
            ("max_http_inflight", l.max_http_inflight as u64, 1_000_000),
            ("max_tenant_inflight", l.max_tenant_inflight as u64, 1_000_000),
            ("shutdown_drain_ms", l.shutdown_drain_ms, DAY_MS),
            ("max_event_streams", l.max_event_streams as u64, 1_000_000),
            ("event_keepalive_ms", l.event_keepalive_ms, DAY_MS),
        ] {
            if value > max {
                return err(format!("limits.{name}"), format!("must be at most {max}"));
            }
        }
        if self.storage.kind == StorageKind::Postgres && self.storage.url.as_deref().is_none_or(str::is_empty) {
            return err("storage.url".into(), "is required for kind = \"postgres\" (postgres://user@host/db)".into());
        }
        if let Some(url) = &self.storage.url {
            if self.storage.kind == StorageKind::Postgres
                && !url.starts_with("postgres://")
                && !url.starts_with("postgresql://")
            {
                return err("storage.url".into(), "must start with postgres:// or postgresql://".into());
            }
        }
        if self.storage.lease_ms < 1000 || self.storage.lease_ms > DAY_MS {
            return err("storage.lease_ms".into(), format!("must be between 1000 and {DAY_MS}"));
        }
        let c = &self.campaigns;
        for (name, value) in [
            ("max_recipients_per_campaign", c.max_recipients_per_campaign),
            ("summary_audience_items", c.summary_audience_items as u64),
            ("media_link_max_bytes", c.media_link_max_bytes),
            ("media_link_timeout_ms", c.media_link_timeout_ms),
            ("send_attempts", c.send_attempts as u64),
            ("dispatch_batch", c.dispatch_batch as u64),
            ("receipt_queue", c.receipt_queue as u64),
            ("receipt_batch", c.receipt_batch as u64),
            ("schedule_queue", c.schedule_queue as u64),
        ] {
            if value == 0 {
                return err(format!("campaigns.{name}"), "must be greater than 0".into());
            }
        }
        // A batch is one statement and one allocation; a queue is memory held per entry.
        for (name, value, max) in
            [("receipt_batch", c.receipt_batch as u64, 65_536), ("schedule_queue", c.schedule_queue as u64, 10_000_000)]
        {
            if value > max {
                return err(format!("campaigns.{name}"), format!("must be at most {max}"));
            }
        }
        self.outbound.validate()?;
        self.conversations.validate()?;
        self.webhooks.validate()?;
        self.idempotency.validate()?;
        self.segments.validate()?;
        let mut identifiers = HashSet::new();
        let mut api_keys = HashSet::new();
        for (t, tenant) in self.tenants.iter().enumerate() {
            let key = |k: &str| format!("tenants[{t}].{k}");
            for (name, url) in [("notification_url", &tenant.notification_url), ("message_url", &tenant.message_url)] {
                if let Some(url) = url {
                    if !reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                        return err(key(name), format!("\"{url}\" is not an http(s) URL"));
                    }
                }
            }
            if let Some(window) = &tenant.default_send_window {
                if let Err((field, why)) = crate::window::SendWindow::parse(window) {
                    return err(key(&format!("default_send_window.{field}")), why);
                }
            }
            if tenant.identifier.is_empty()
                || !tenant.identifier.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c))
            {
                return err(
                    key("identifier"),
                    format!("\"{}\" is not a valid identifier (letters, digits, - _ .)", tenant.identifier),
                );
            }
            if !identifiers.insert(tenant.identifier.to_ascii_lowercase()) {
                return err(key("identifier"), format!("\"{}\" is used by another tenant", tenant.identifier));
            }
            if tenant.access_key.starts_with(DIGEST_PREFIX) {
                if access_key_digest(&tenant.access_key).is_none() {
                    return err(key("access_key"), malformed_digest("printf %s ACCESS_KEY | base64 -d | sha256sum"));
                }
            } else if tenant.access_key.is_empty() || decode_base64(&tenant.access_key).is_none() {
                return err(key("access_key"), "must be base64 text, as the BLiP portal shows access keys".into());
            }
            for (i, api_key) in tenant.api_keys.iter().enumerate() {
                let Some(digest) = api_key_digest(api_key) else {
                    return err(key(&format!("api_keys[{i}]")), malformed_digest("printf %s API_KEY | sha256sum"));
                };
                if !api_key.starts_with(DIGEST_PREFIX) && api_key.len() < 8 {
                    return err(key(&format!("api_keys[{i}]")), "must be at least 8 characters".into());
                }
                // A key and its digest are the same key.
                if !api_keys.insert(digest) {
                    return err(key(&format!("api_keys[{i}]")), "is used by another tenant or twice".into());
                }
            }
            if !(1..=MAX_COMMANDS_PER_SECOND).contains(&tenant.max_commands_per_second) {
                return err(
                    key("max_commands_per_second"),
                    format!(
                        "must be between 1 and {MAX_COMMANDS_PER_SECOND} (absent: {})",
                        crate::tenant::DEFAULT_COMMANDS_PER_SECOND
                    ),
                );
            }
            for (i, feature) in tenant.features.iter().enumerate() {
                if Feature::parse(feature).is_none() {
                    let known: Vec<String> = Feature::ALL.iter().map(|f| format!("\"{}\"", f.as_str())).collect();
                    return err(
                        key(&format!("features[{i}]")),
                        format!("unknown feature \"{feature}\" (known: {})", known.join(", ")),
                    );
                }
            }
            let mut channel_ids = HashSet::new();
            let mut defaults = HashSet::new();
            for (c, channel) in tenant.channels.iter().enumerate() {
                if channel.id.is_empty() {
                    return err(key(&format!("channels[{c}].id")), "must not be empty".into());
                }
                if !channel_ids.insert(channel.id.as_str()) {
                    return err(key(&format!("channels[{c}].id")), format!("\"{}\" is used twice", channel.id));
                }
                if channel.max_per_second == Some(0) {
                    return err(key(&format!("channels[{c}].max_per_second")), "must be greater than 0".into());
                }
                if let Err((field, msg)) = provider_keys(channel) {
                    return err(key(&format!("channels[{c}].{field}")), msg);
                }
                if channel.default && !defaults.insert(channel.channel_type) {
                    return err(
                        key(&format!("channels[{c}].default")),
                        format!("another {:?} channel is already the default", channel.channel_type),
                    );
                }
            }
            let mut template_ids = HashSet::new();
            for (i, template) in tenant.templates.iter().enumerate() {
                if !template_ids.insert(template.id.as_str()) {
                    return err(key(&format!("templates[{i}].id")), format!("\"{}\" is used twice", template.id));
                }
                if !channel_ids.contains(template.channel.as_str()) {
                    return err(
                        key(&format!("templates[{i}].channel")),
                        format!("no channel with id \"{}\" in this tenant", template.channel),
                    );
                }
                if template.name.is_empty() {
                    return err(key(&format!("templates[{i}].name")), "must not be empty".into());
                }
                if let Err((field, msg)) = template_structure(template) {
                    return err(key(&format!("templates[{i}].{field}")), msg);
                }
                if TemplateStatus::parse(&template.status).is_none() {
                    let statuses: Vec<&str> = TemplateStatus::ALL.iter().map(|s| s.as_str()).collect();
                    return err(
                        key(&format!("templates[{i}].status")),
                        format!("unknown status \"{}\" (expected one of {})", template.status, statuses.join(", ")),
                    );
                }
            }
        }
        Ok(())
    }
}

fn malformed_digest(command: &str) -> String {
    format!("a {DIGEST_PREFIX} digest must be followed by 64 hex digits (`{command}` prints them)")
}

/// A provider key and whether it is set.
type Key<'a> = (&'a str, bool);

/// The keys a channel's provider needs, and none of another provider's: a key the provider
/// would ignore is a mistake worth naming. The error is the key at fault and the problem.
fn provider_keys(c: &ChannelConfig) -> Result<(), (&'static str, String)> {
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    let secret = |v: &Option<Secret>| v.as_ref().is_some_and(|s| !s.expose().is_empty());
    let whatsapp = [
        ("phone_number_id", given(&c.phone_number_id)),
        ("waba_id", given(&c.waba_id)),
        ("access_token", secret(&c.access_token)),
        ("app_secret", secret(&c.app_secret)),
        ("verify_token", secret(&c.verify_token)),
        ("template_sync_ms", c.template_sync_ms.is_some()),
    ];
    let rbm = [
        ("agent_id", given(&c.agent_id)),
        ("service_account_key", c.service_account_key.is_some()),
        ("client_token", secret(&c.client_token)),
    ];
    let (needed, expected_type, own, foreign): (&[&str], _, &[Key], &[Key]) = match c.provider {
        ProviderKind::Simulator => (&[], None, &[], &[]),
        ProviderKind::WhatsappCloud => (
            &["phone_number_id", "access_token", "app_secret", "verify_token"],
            Some(ChannelType::WhatsApp),
            &whatsapp,
            &rbm,
        ),
        ProviderKind::GoogleRbm => {
            (&["agent_id", "service_account_key", "client_token"], Some(ChannelType::GoogleRcs), &rbm, &whatsapp)
        }
    };
    let provider = c.provider.as_str();
    if let Some(t) = expected_type.filter(|t| *t != c.channel_type) {
        return Err(("provider", format!("\"{provider}\" serves channels of type \"{}\" only", type_name(t))));
    }
    for name in needed {
        if !own.iter().any(|(n, set)| n == name && *set) {
            return Err((name, format!("is required for provider = \"{provider}\"")));
        }
    }
    let others: Vec<&Key> = match c.provider {
        ProviderKind::Simulator => whatsapp.iter().chain(&rbm).collect(),
        _ => foreign.iter().collect(),
    };
    if let Some((name, _)) = others.into_iter().find(|(_, set)| *set) {
        return Err((name, format!("is not a setting of provider = \"{provider}\"")));
    }
    if c.provider == ProviderKind::Simulator && given(&c.api_base) {
        return Err(("api_base", "is not a setting of provider = \"simulator\"".into()));
    }
    if let Some(base) = c.api_base.as_deref().filter(|b| !b.is_empty()) {
        if !(base.starts_with("https://") || base.starts_with("http://")) || reqwest::Url::parse(base).is_err() {
            return Err(("api_base", format!("\"{base}\" is not an http(s) URL")));
        }
    }
    if let Some(path) = c.service_account_key.as_deref().filter(|_| c.provider == ProviderKind::GoogleRbm) {
        // At start-up rather than at the first send; the message never quotes the key.
        crate::channel::rbm::auth::ServiceAccount::load(path).map_err(|e| ("service_account_key", e))?;
    }
    if c.template_sync_ms.is_some_and(|ms| !(1000..=DAY_MS).contains(&ms)) {
        return Err(("template_sync_ms", format!("must be between 1000 and {DAY_MS}")));
    }
    Ok(())
}

/// Most cards a carousel template may have (Meta's limit).
const MAX_CARDS: usize = 10;

/// The structure keys of a template: known keywords, buttons of a known type, a card count
/// the provider allows.
fn template_structure(t: &TemplateConfig) -> Result<(), (String, String)> {
    if t.header_text.is_some() && t.header.as_deref().is_some_and(|h| h != "text") {
        return Err(("header_text".into(), "is the text of a header = \"text\" only".into()));
    }
    if t.header.as_deref() == Some("text") && t.header_text.as_deref().is_none_or(str::is_empty) {
        return Err(("header_text".into(), "is required with header = \"text\"".into()));
    }
    for (b, button) in t.buttons.iter().enumerate() {
        if !["url", "quick_reply", "copy_code"].contains(&button.kind.to_ascii_lowercase().as_str()) {
            return Err((
                format!("buttons[{b}].type"),
                format!("unknown button type \"{}\" (url, quick_reply or copy_code)", button.kind),
            ));
        }
    }
    if t.cards > MAX_CARDS {
        return Err(("cards".into(), format!("must be at most {MAX_CARDS}")));
    }
    if t.card_body.is_some() && t.cards == 0 {
        return Err(("card_body".into(), "is the body of carousel cards: set cards too".into()));
    }
    if let Some(f) = t.parameter_format.as_deref().filter(|f| ParameterFormat::parse(f).is_none()) {
        return Err(("parameter_format".into(), format!("unknown format \"{f}\" (positional or named)")));
    }
    Ok(())
}

fn type_name(t: ChannelType) -> &'static str {
    match t {
        ChannelType::WhatsApp => "whatsapp",
        ChannelType::GoogleRcs => "google_rcs",
    }
}

/// The first of `values` (key, value) that is 0, as `section.key: must be at least 1`: the
/// rule of every count and duration of a settings section.
pub(super) fn at_least_one(section: &str, values: &[(&str, u64)]) -> Result<(), (String, String)> {
    match values.iter().find(|(_, v)| *v == 0) {
        Some((key, _)) => Err((format!("{section}.{key}"), "must be at least 1".into())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_structure_keys_are_checked_and_named() {
        let base = "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\n[[tenants.channels]]\nid = \"wa\"\ntype = \"whatsapp\"\n[[tenants.templates]]\nid = \"t\"\nchannel = \"wa\"\nname = \"x\"\n";
        for (extra, key, part) in [
            ("header = \"text\"\n", "header_text", "required"),
            ("buttons = [{type = \"phone\"}]\n", "buttons[0].type", "phone"),
            ("cards = 11\n", "cards", "at most 10"),
            ("card_body = \"{{1}}\"\n", "card_body", "cards"),
            ("parameter_format = \"nominal\"\n", "parameter_format", "nominal"),
        ] {
            let (k, msg) = Config::parse(&format!("{base}{extra}")).unwrap_err();
            assert_eq!(k, format!("tenants[0].templates[0].{key}"), "{extra}: {msg}");
            assert!(msg.contains(part), "{extra}: {msg}");
        }
        let ok = format!(
            "{base}header = \"image\"\nbuttons = [{{type = \"url\", dynamic = true}}]\nparameter_format = \"named\"\n"
        );
        assert!(Config::parse(&ok).is_ok());
    }

    #[test]
    fn whatsapp_cloud_is_available_with_its_required_keys() {
        let wa = "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\n[[tenants.channels]]\nid = \"wa\"\ntype = \"whatsapp\"\nprovider = \"whatsapp_cloud\"\nphone_number_id = \"1\"\naccess_token = \"t\"\napp_secret = \"s\"\nverify_token = \"v\"\n";
        assert!(Config::parse(wa).is_ok());
        let (key, msg) = Config::parse(&wa.replace("app_secret = \"s\"\n", "")).unwrap_err();
        assert_eq!((key.as_str(), msg.contains("required")), ("tenants[0].channels[0].app_secret", true));
    }

    #[test]
    fn a_malformed_digest_is_refused_naming_the_key() {
        let hex = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
        let tenant = |access: &str, api: &str| {
            format!("[[tenants]]\nidentifier = \"a\"\naccess_key = \"{access}\"\napi_keys = [\"{api}\"]\n")
        };
        let good = format!("sha256:{hex}");
        assert!(Config::parse(&tenant(&good, &good)).is_ok());
        let (key, msg) = Config::parse(&tenant(&format!("sha256:{}", &hex[2..]), &good)).unwrap_err();
        assert_eq!(key, "tenants[0].access_key", "{msg}");
        assert!(msg.contains("64 hex digits"), "{msg}");
        let (key, _) = Config::parse(&tenant(&good, "sha256:xyz")).unwrap_err();
        assert_eq!(key, "tenants[0].api_keys[0]");
        // One digest given to two tenants.
        let (key, msg) = Config::parse(&format!(
            "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\napi_keys = [\"{good}\"]\n\
             [[tenants]]\nidentifier = \"b\"\naccess_key = \"c2VjcmV0\"\napi_keys = [\"secret12\", \"{good}\"]\n"
        ))
        .unwrap_err();
        assert_eq!(key, "tenants[1].api_keys[1]", "{msg}");
    }

    #[test]
    fn an_api_key_and_its_digest_are_one_key() {
        let text = "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\napi_keys = [\"wk_test_123\", \"sha256:b15f4128e41b6ea7a528641f6123e7b3d22c7313d348ea751fe77d10baeca103\"]\n";
        let (key, msg) = Config::parse(text).unwrap_err();
        assert_eq!(key, "tenants[0].api_keys[1]", "{msg}");
    }

    #[test]
    fn template_on_unknown_channel_is_refused() {
        let text = "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\n[[tenants.templates]]\nid = \"t\"\nchannel = \"nope\"\nname = \"x\"\n";
        let (key, msg) = Config::parse(text).unwrap_err();
        assert_eq!(key, "tenants[0].templates[0].channel");
        assert!(msg.contains("nope"));
    }
}
