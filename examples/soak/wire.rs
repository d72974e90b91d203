//! How the soak talks to the gateway: `POST /commands` and REST over a keep-alive client, LIME
//! sessions over WebSocket, and the checks that sort an answer into ok, expected failure or
//! unexpected.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub(crate) const BOT: &str = "soakbot";
pub(crate) const API_KEY: &str = "wk_soak_key";
/// An answer slower than this counts as unexpected.
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// A LIME answer: success (`Ok(true)`) or failure (`Ok(false)`) with its reason code.
pub(crate) type Lime = Result<(bool, Value), String>;

pub(crate) fn lime_check(answer: Lime, want_success: bool, failure_codes: &[i64]) -> Result<bool, String> {
    let (success, envelope) = answer?;
    if success == want_success {
        if !success {
            let code = envelope["reason"]["code"].as_i64().unwrap_or(0);
            if !failure_codes.contains(&code) {
                return Err(format!("failure {code} instead of {failure_codes:?}: {envelope}"));
            }
        }
        Ok(success)
    } else {
        Err(format!("wanted {}: {envelope}", if want_success { "success" } else { "a failure" }))
    }
}

pub(crate) fn envelope_outcome(v: Value) -> Lime {
    match v["status"].as_str() {
        Some("success") => Ok((true, v)),
        Some("failure") => Ok((false, v)),
        _ => Err(format!("neither success nor failure: {v}")),
    }
}

/// `POST /commands` and REST over one keep-alive client.
pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) auth: String,
}

impl Http {
    pub(crate) async fn lime(&self, c: Value) -> Lime {
        let (status, body) = self.post_commands(c.to_string(), &self.auth).await?;
        if status != 200 {
            return Err(format!("HTTP {status}: {body}"));
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("reply is not JSON ({e}): {body}"))?;
        envelope_outcome(v)
    }

    pub(crate) async fn post_commands(&self, body: String, auth: &str) -> Result<(u16, String), String> {
        let request = self
            .client
            .post(format!("{}/commands", self.base))
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(body);
        send(request).await
    }

    pub(crate) async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        match self.try_rest(method, path, body).await {
            Ok(r) => r,
            Err(e) => (0, Value::String(e)),
        }
    }

    async fn try_rest(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request =
            self.client.request(method, format!("{}/api/v1{path}", self.base)).header("x-api-key", API_KEY);
        if let Some(b) = body {
            request = request.header("content-type", "application/json").body(b.to_string());
        }
        let (status, text) = send(request).await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }
}

pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<(u16, String), String> {
    let reply = tokio::time::timeout(ANSWER_WITHIN, request.send())
        .await
        .map_err(|_| "no answer in time".to_owned())?
        .map_err(|e| format!("transport error: {e}"))?;
    let status = reply.status().as_u16();
    let text = reply.text().await.map_err(|e| format!("body: {e}"))?;
    Ok((status, text))
}

/// A REST answer must have `status`; 2xx is ok, anything else an expected failure.
pub(crate) fn rest_check((status, body): (u16, Value), want: u16) -> Result<bool, String> {
    if status == want {
        Ok((200..300).contains(&status))
    } else {
        Err(format!("HTTP {status} instead of {want}: {body}"))
    }
}

pub(crate) type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A LIME session through the key-scheme handshake.
pub(crate) async fn session(addr: SocketAddr) -> Result<Ws, String> {
    let mut request = format!("ws://{addr}/").into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert("sec-websocket-protocol", "lime".parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| format!("connect: {e}"))?;
    ws.send(Message::text(r#"{"state":"new"}"#)).await.map_err(|e| e.to_string())?;
    let auth = next_json(&mut ws).await?;
    let sid = auth["id"].as_str().ok_or(format!("no session id: {auth}"))?.to_owned();
    let key = base64::engine::general_purpose::STANDARD.encode("secret");
    let reply = json!({"id": sid, "state": "authenticating", "from": format!("{BOT}@msging.net/default"),
                       "scheme": "key", "authentication": {"key": key, "scheme": "key"}});
    ws.send(Message::text(reply.to_string())).await.map_err(|e| e.to_string())?;
    let established = next_json(&mut ws).await?;
    if established["state"] != "established" {
        return Err(format!("not established: {established}"));
    }
    Ok(ws)
}

/// The next text frame as JSON, within [`ANSWER_WITHIN`].
pub(crate) async fn next_json(ws: &mut Ws) -> Result<Value, String> {
    loop {
        let frame = tokio::time::timeout(ANSWER_WITHIN, ws.next()).await.map_err(|_| "no frame in time".to_owned())?;
        match frame {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).map_err(|e| format!("{e}: {t}")),
            Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("socket error: {e}")),
            None => return Err("socket ended".into()),
        }
    }
}

/// Sends `text` and returns the answer whose id is `id`.
pub(crate) async fn ws_call(ws: &mut Ws, id: &str, text: String) -> Lime {
    ws.send(Message::text(text)).await.map_err(|e| format!("send: {e}"))?;
    loop {
        let v = next_json(ws).await?;
        if v["id"] == id {
            return envelope_outcome(v);
        }
    }
}

/// A failure asked for must answer HTTP `want`.
pub(crate) fn status_is(answer: Result<(u16, String), String>, want: u16) -> Result<bool, String> {
    let (status, body) = answer?;
    if status == want {
        Ok(false)
    } else {
        Err(format!("HTTP {status} instead of {want}: {body}"))
    }
}
