//! The media-link fetch of `set /audiences/v2/{id}/file` is not an open fetcher (issue 14,
//! point 10): https only unless allowed, loopback and private addresses refused after the name
//! is resolved unless allowed, redirects followed by the gateway with the allow-list and the
//! addresses checked at every hop, and a bounded number of them. Against a loopback HTTP server.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Query;
use axum::response::IntoResponse;
use axum::routing::get;
use irisgate::Config;
use serde_json::{json, Value};
use support::client::*;

const CSV: &str = "phone,1\n+5531998761234,Ana\n+5531998765678,Bia\n";

/// `/audience.csv`; `/to?url=…` (302 to that Location, as given); `/loop` (302 to itself);
/// the number of requests it served.
async fn server() -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new()
        .route("/audience.csv", get(|| async { ([("content-type", "text/csv")], CSV) }))
        .route(
            "/to",
            get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                (axum::http::StatusCode::FOUND, [("location", q["url"].clone())]).into_response()
            }),
        )
        .route("/loop", get(|| async { (axum::http::StatusCode::FOUND, [("location", "/loop")]).into_response() }))
        .layer(axum::middleware::from_fn(move |req, next: axum::middleware::Next| {
            counted.fetch_add(1, Ordering::Relaxed);
            async move { next.run(req).await }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, hits)
}

fn config(hosts: &[&str], allow_http: bool, allow_private: bool) -> Config {
    let mut c = Config::development();
    c.campaigns.media_link_hosts = hosts.iter().map(|h| h.to_string()).collect();
    c.campaigns.media_link_allow_http = allow_http;
    c.campaigns.media_link_allow_private = allow_private;
    c
}

fn link(uri: &str) -> Option<(&'static str, Value)> {
    Some((MEDIA_LINK_TYPE, json!({"uri": uri, "type": "text/csv"})))
}

/// A new campaign, and the failure (code 64) its media link `uri` gets; nobody was added.
async fn refused(c: &mut Client, uri: &str) -> String {
    let id = id_of(&c.v2(dynamic("link")).await);
    let description = c.fail("set", &format!("/audiences/v2/{id}/file"), link(uri), 64).await;
    assert_eq!(c.report(&id).await["audienceCounts"]["total"], 0, "{uri}");
    description
}

async fn fetched(c: &mut Client, uri: &str) -> Value {
    let id = id_of(&c.v2(dynamic("link")).await);
    c.ok("set", &format!("/audiences/v2/{id}/file"), link(uri)).await
}

#[tokio::test]
async fn loopback_is_refused_after_resolution_unless_private_addresses_are_allowed() {
    let (server, _) = server().await;
    let port = server.port();
    let hosts = ["127.0.0.1", "localhost", "[::ffff:7f00:1]", "[::1]"];
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config(&hosts, true, false)).await;
        for (uri, kind) in [
            (format!("http://127.0.0.1:{port}/audience.csv"), "loopback"),
            // A name: refused for what it resolves to.
            (format!("http://localhost:{port}/audience.csv"), "loopback"),
            (format!("http://[::ffff:127.0.0.1]:{port}/audience.csv"), "loopback"),
            (format!("http://[::1]:{port}/audience.csv"), "loopback"),
        ] {
            let e = refused(&mut c, &uri).await;
            assert_has(&e, &format!("resolves to a {kind} address"), t);
            assert_has(&e, "campaigns.media_link_allow_private", t);
        }
        let Env { gw: _gw, mut c } = Env::start_with(t, config(&hosts, true, true)).await;
        for host in ["127.0.0.1", "localhost"] {
            let r = fetched(&mut c, &format!("http://{host}:{port}/audience.csv")).await;
            assert_eq!((r["added"].as_u64(), r["total"].as_u64()), (Some(2), Some(2)), "{t} {host}: {r}");
        }
    }
}

#[tokio::test]
async fn http_is_refused_unless_allowed() {
    let (server, hits) = server().await;
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config(&["127.0.0.1"], false, true)).await;
        let e = refused(&mut c, &format!("http://{server}/audience.csv")).await;
        assert_has(&e, "scheme http is not allowed (https only", t);
    }
    assert_eq!(hits.load(Ordering::Relaxed), 0, "nothing was requested");
}

#[tokio::test]
async fn a_redirect_is_followed_only_to_hosts_on_the_list() {
    let (server, _) = server().await;
    let port = server.port();
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config(&["127.0.0.1"], true, true)).await;
        let r = fetched(&mut c, &format!("http://{server}/to?url=/audience.csv")).await;
        assert_eq!(r["added"], 2, "{t}: a redirect on the same host is followed: {r}");
        let away = format!("http://{server}/to?url=http://localhost:{port}/audience.csv");
        let e = refused(&mut c, &away).await;
        assert_has(&e, "host localhost is not in campaigns.media_link_hosts", t);
    }
}

#[tokio::test]
async fn a_redirect_to_an_address_never_fetched_is_refused() {
    let (server, hits) = server().await;
    let port = server.port();
    // What the check prevents: on Linux a connection to 0.0.0.0 reaches the local host.
    assert!(tokio::net::TcpStream::connect(("0.0.0.0", port)).await.is_ok());
    for t in BOTH {
        let hosts = ["127.0.0.1", "0.0.0.0", "[::ffff:0:0]"];
        let Env { gw: _gw, mut c } = Env::start_with(t, config(&hosts, true, true)).await;
        for target in ["0.0.0.0", "[::ffff:0.0.0.0]"] {
            let before = hits.load(Ordering::Relaxed);
            let e = refused(&mut c, &format!("http://{server}/to?url=http://{target}:{port}/audience.csv")).await;
            assert_has(&e, "resolves to an unspecified, multicast or broadcast address", t);
            assert_eq!(hits.load(Ordering::Relaxed), before + 1, "{t}: only the redirect was requested");
        }
    }
}

#[tokio::test]
async fn redirects_are_bounded() {
    let (server, hits) = server().await;
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config(&["127.0.0.1"], true, true)).await;
        let before = hits.load(Ordering::Relaxed);
        let e = refused(&mut c, &format!("http://{server}/loop")).await;
        let max = irisgate::media_link::MAX_REDIRECTS;
        assert_has(&e, &format!("redirected more than {max} times"), t);
        assert_eq!(hits.load(Ordering::Relaxed) - before, max + 1, "{t}: the first request and {max} redirects");
    }
}
