//! Which webhook URLs the gateway may POST to (SSRF): `https` unless `webhooks.allow_http`, and
//! hosts whose RESOLVED addresses are private, loopback or link-local refused unless
//! `webhooks.allow_private`. Checked when a webhook is created and again before each round of
//! deliveries, whose client connects only to the addresses checked (no second resolution).

use std::net::SocketAddr;

use reqwest::Url;

use crate::config::WebhookSettings;
use crate::error::{Error, Result};
use crate::media_link::{literal_ip, refused, NEVER};

/// A URL that passed the policy, with the addresses it was checked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub url: Url,
    pub host: String,
    /// Empty when the host is a literal address (nothing to pin).
    pub addrs: Vec<SocketAddr>,
}

/// The scheme and shape only (no resolution): for the configuration file at start-up.
pub fn parse(settings: &WebhookSettings, text: &str) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|_| Error::InvalidArgument(format!("url \"{text}\" is not a URL")))?;
    let scheme = url.scheme();
    if !(scheme == "https" || (scheme == "http" && settings.allow_http)) {
        let allowed =
            if settings.allow_http { "http or https" } else { "https only; webhooks.allow_http enables http" };
        return Err(Error::InvalidArgument(format!("url scheme {scheme} is not allowed ({allowed})")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidArgument(format!("url \"{text}\" has no host")));
    }
    Ok(url)
}

/// The whole policy: scheme, then every address the host resolves to.
pub async fn check(settings: &WebhookSettings, text: &str) -> Result<Checked> {
    let url = parse(settings, text)?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(443);
    let literal = literal_ip(&host);
    let addrs: Vec<SocketAddr> = match literal {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| Error::InvalidArgument(format!("url host {host} could not be resolved")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Error::InvalidArgument(format!("url host {host} has no address")));
    }
    for addr in &addrs {
        if let Some(kind) = refused(addr.ip(), settings.allow_private) {
            let (article, remedy) =
                if kind == NEVER { ("an", "") } else { ("a", " (webhooks.allow_private allows it)") };
            return Err(Error::InvalidArgument(format!(
                "url host {host} resolves to {article} {kind} address; webhooks are not sent to it{remedy}"
            )));
        }
    }
    Ok(Checked { url, host, addrs: if literal.is_some() { Vec::new() } else { addrs } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(allow_http: bool, allow_private: bool) -> WebhookSettings {
        WebhookSettings { allow_http, allow_private, ..WebhookSettings::default() }
    }

    #[tokio::test]
    async fn http_and_private_addresses_are_refused_by_default() {
        let e = check(&settings(false, false), "http://example.com/hook").await.unwrap_err();
        assert!(e.to_string().contains("webhooks.allow_http"), "{e}");
        for url in ["https://127.0.0.1/h", "https://10.0.0.8/h", "https://[::1]/h", "https://169.254.169.254/h"] {
            let e = check(&settings(false, false), url).await.unwrap_err();
            assert!(e.to_string().contains("webhooks.allow_private"), "{url}: {e}");
        }
        let e = check(&settings(true, false), "http://localhost:9/h").await.unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
    }

    #[tokio::test]
    async fn both_allowances_let_a_loopback_receiver_through() {
        let ok = check(&settings(true, true), "http://127.0.0.1:9/h").await.unwrap();
        assert_eq!(ok.host, "127.0.0.1");
        let never = check(&settings(true, true), "http://0.0.0.0:9/h").await.unwrap_err();
        assert!(never.to_string().contains("unspecified"), "{never}");
    }
}
