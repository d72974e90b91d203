//! The operating settings: `[metrics]` (where Prometheus scrapes) and `log_format`.

use std::net::SocketAddr;

use serde::{Deserialize, Deserializer};

/// `[metrics]`: `GET /metrics` on a port of its own, never with the public API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address of the metrics port (default `127.0.0.1:9464`: on, loopback only); `""` turns
    /// metrics off (nothing is recorded then).
    #[serde(deserialize_with = "address_or_off")]
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { listen: Some(SocketAddr::from(([127, 0, 0, 1], 9464))) }
    }
}

/// `""` is off; anything else must be a socket address.
fn address_or_off<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "\"{text}\" is not an address like \"127.0.0.1:9464\" (\"\" turns metrics off)"
        ))
    })
}

/// `log_format`: how log lines on stderr look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, message, fields, spans) for log
    /// shippers.
    Json,
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn metrics_default_on_loopback_and_empty_turns_them_off() {
        assert_eq!(Config::parse("").unwrap().metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(Config::parse("[metrics]\nlisten = \"\"\n").unwrap().metrics.listen, None);
        let (key, msg) = Config::parse("[metrics]\nlisten = \"nope\"\n").unwrap_err();
        assert_eq!(key, "metrics.listen");
        assert!(msg.contains("nope"), "{msg}");
        let (key, _) = Config::parse("log_format = \"xml\"\n").unwrap_err();
        assert_eq!(key, "log_format");
        assert_eq!(Config::parse("log_format = \"json\"\n").unwrap().log_format, super::LogFormat::Json);
    }
}
