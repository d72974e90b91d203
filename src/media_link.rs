//! Fetching a media-link CSV (`set /audiences/v2/{id}/file`) without making the gateway an
//! open fetcher: `https` only unless `campaigns.media_link_allow_http`; the host allow-list
//! (`campaigns.media_link_hosts`) checked at every redirect hop, which are followed here, not
//! by the HTTP client; the host's addresses, once resolved, refused when they are private,
//! loopback, link-local or unique-local unless `campaigns.media_link_allow_private`; and the
//! connection made to exactly the addresses checked (no second resolution, so a DNS answer
//! that changes between the check and the connection cannot slip through).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::{StatusCode, Url};

use crate::config::CampaignSettings;
use crate::error::{Error, Result};

/// Redirects followed before giving up. A CSV behind a CDN or a signed-URL service takes one
/// or two; every further hop is another host to trust and more of the time limit spent.
pub const MAX_REDIRECTS: usize = 5;

/// Fetches `uri` under the settings' rules and limits (size, total time including every
/// redirect); the CSV text. Failures name the problem, never internal detail.
pub async fn fetch(settings: &CampaignSettings, uri: &str) -> Result<String> {
    let within = Duration::from_millis(settings.media_link_timeout_ms);
    tokio::time::timeout(within, follow(settings, uri)).await.unwrap_or_else(|_| {
        Err(Error::Unavailable(format!(
            "The media link could not be fetched within {} ms (campaigns.media_link_timeout_ms)",
            settings.media_link_timeout_ms
        )))
    })
}

async fn follow(settings: &CampaignSettings, uri: &str) -> Result<String> {
    let mut url = Url::parse(uri).map_err(|e| Error::InvalidArgument(format!("uri \"{uri}\" is not a URL: {e}")))?;
    let mut redirects = 0;
    loop {
        let mut response = get(settings, &url).await?;
        let status = response.status();
        if !is_followed_redirect(status) {
            if !status.is_success() {
                return Err(Error::InvalidArgument(format!("The media link answered HTTP {}", status.as_u16())));
            }
            return read_body(&mut response, settings.media_link_max_bytes).await;
        }
        if redirects == MAX_REDIRECTS {
            return Err(Error::InvalidArgument(format!("The media link redirected more than {MAX_REDIRECTS} times")));
        }
        redirects += 1;
        let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
        url = location.and_then(|l| url.join(l).ok()).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "The media link answered HTTP {} without a usable Location",
                status.as_u16()
            ))
        })?;
    }
}

fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// One hop: checks host, scheme and addresses, then GETs `url` from the checked addresses.
async fn get(settings: &CampaignSettings, url: &Url) -> Result<reqwest::Response> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(443);
    let host_port = format!("{host}:{port}");
    let allowed =
        settings.media_link_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host) || h.eq_ignore_ascii_case(&host_port));
    if host.is_empty() || !allowed {
        return Err(Error::InvalidArgument(format!(
            "uri host {host} is not in campaigns.media_link_hosts; media links are fetched only from allowed hosts"
        )));
    }
    let scheme = url.scheme();
    if !(scheme == "https" || (scheme == "http" && settings.media_link_allow_http)) {
        let allowed = if settings.media_link_allow_http {
            "http or https"
        } else {
            "https only; campaigns.media_link_allow_http enables http"
        };
        return Err(Error::InvalidArgument(format!("uri scheme {scheme} is not allowed ({allowed})")));
    }
    let literal = literal_ip(&host);
    let addrs: Vec<SocketAddr> = match literal {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| {
                tracing::info!(%host, error = %e, "media link host not resolved");
                Error::Unavailable(format!("The media link could not be fetched: host {host} could not be resolved"))
            })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Error::Unavailable(format!("The media link could not be fetched: host {host} has no address")));
    }
    for addr in &addrs {
        if let Some(kind) = refused(addr.ip(), settings.media_link_allow_private) {
            let (article, remedy) =
                if kind == NEVER { ("an", "") } else { ("a", " (campaigns.media_link_allow_private allows it)") };
            return Err(Error::InvalidArgument(format!(
                "uri host {host} resolves to {article} {kind} address; media links are not fetched from it{remedy}"
            )));
        }
    }
    let mut client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy();
    if literal.is_none() {
        // The client connects where the check looked, without resolving the name again.
        client = client.resolve_to_addrs(&host, &addrs);
    }
    let client = client.build().map_err(|e| Error::Internal(format!("media link HTTP client: {e}")))?;
    client.get(url.clone()).send().await.map_err(|e| {
        tracing::info!(%host, error = %e, "media link not fetched");
        Error::Unavailable(format!("The media link could not be fetched: the connection to {host} failed"))
    })
}

async fn read_body(response: &mut reqwest::Response, limit: u64) -> Result<String> {
    let too_big = || {
        Error::InvalidArgument(format!(
            "The media link is over the limit of {limit} bytes (campaigns.media_link_max_bytes)"
        ))
    };
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        tracing::info!(error = %e, "media link body not read");
        Error::Unavailable("The media link could not be fetched: the transfer was cut short".into())
    })? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| Error::InvalidArgument("The media link's CSV is not UTF-8".into()))
}

/// An IP address written as the host (`127.0.0.1`, `[::1]`), which is not resolved.
pub(crate) fn literal_ip(host: &str) -> Option<IpAddr> {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => host.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// What an address that is never a destination is called: unspecified (`0.0.0.0` and `::`
/// reach the local host on Linux), multicast or broadcast.
pub(crate) const NEVER: &str = "unspecified, multicast or broadcast";

/// Why a connection to `ip` is refused (the kind of address), if it is. v4-mapped v6
/// addresses (`::ffff:10.0.0.1`) and NAT64 ones (`64:ff9b::10.0.0.1`, which a NAT64 gateway
/// turns into that v4 address) are judged as the v4 address they carry.
pub(crate) fn refused(ip: IpAddr, allow_private: bool) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
            let [.., a, b, c, d] = v6.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let (never, kind) = match ip {
        IpAddr::V4(a) => {
            let [first, second, ..] = a.octets();
            let never = first == 0 || a.is_multicast() || a.is_broadcast();
            let kind = if a.is_loopback() {
                Some("loopback")
            } else if a.is_link_local() {
                Some("link-local")
            } else if a.is_private() || (first == 100 && (64..128).contains(&second)) {
                // RFC 1918, and the carrier-grade NAT range (RFC 6598).
                Some("private")
            } else {
                None
            };
            (never, kind)
        }
        IpAddr::V6(a) => {
            let never = a.is_unspecified() || a.is_multicast();
            let kind = if a.is_loopback() {
                Some("loopback")
            } else if a.is_unicast_link_local() {
                Some("link-local")
            } else if a.is_unique_local() {
                Some("unique-local")
            } else {
                None
            };
            (never, kind)
        }
    };
    if never {
        Some(NEVER)
    } else {
        kind.filter(|_| !allow_private)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_judged_after_unmapping() {
        let judge = |ip: &str, allow| refused(ip.parse().unwrap(), allow);
        for (ip, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("169.254.169.254", "link-local"),
            ("::1", "loopback"),
            ("fe80::1", "link-local"),
            ("fd00::1", "unique-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::10.0.0.1", "private"),
        ] {
            assert_eq!(judge(ip, false), Some(kind), "{ip}");
            assert_eq!(judge(ip, true), None, "{ip} with allow_private");
        }
        for ip in ["0.0.0.0", "0.1.2.3", "::", "::ffff:0.0.0.0", "224.0.0.1", "255.255.255.255", "ff02::1"] {
            assert_eq!(judge(ip, false), Some(NEVER), "{ip}");
            assert_eq!(judge(ip, true), Some(NEVER), "{ip} with allow_private");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert_eq!(judge(ip, false), None, "{ip}");
        }
    }

    #[test]
    fn literal_hosts_are_read_as_addresses() {
        assert_eq!(literal_ip("127.0.0.1"), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(literal_ip("[::1]"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(literal_ip("localhost"), None);
        assert_eq!(literal_ip("[nope]"), None);
    }
}
