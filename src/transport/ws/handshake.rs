//! The session handshake of lime.md: `new` → `authenticating` → `established` (or `failed`),
//! and the check of `key` / `plain` credentials.

use std::sync::Arc;

use lime_protocol::reason::codes;
use lime_protocol::{Envelope, Node, Reason, Session, SessionState};
use serde_json::Value;

use futures_util::StreamExt;

use super::frame::close;
use super::{Connection, End};
use crate::caller::Caller;

impl Connection {
    /// Reads the next envelope of the handshake; anything that is not one ends the session.
    async fn next_envelope(&mut self) -> Result<Envelope, End> {
        loop {
            let frame = self.socket.next().await;
            // Before `established`, whatever is wrong with a frame is a session error (lime.md).
            match self.frame_text(frame).map_err(End::in_handshake)? {
                Some(text) => {
                    return Envelope::parse(&text).map_err(|e| {
                        End::Fail(
                            Reason::new(codes::SESSION_ERROR, format!("Invalid session envelope: {e}")),
                            close::NORMAL,
                        )
                    })
                }
                None => continue,
            }
        }
    }

    /// `new` → `authenticating` → `established`, as lime.md describes it step by step.
    pub(super) async fn handshake(&mut self) -> Result<Arc<Caller>, End> {
        match self.next_envelope().await? {
            Envelope::Session(s) if s.state == SessionState::New => {}
            other => return Err(End::Fail(unexpected(&other, "a session envelope with state \"new\""), close::NORMAL)),
        }
        let mut authenticating = Session::new(Some(self.session_id.clone()), SessionState::Authenticating);
        authenticating.from = Some(self.server_node());
        authenticating.scheme_options = Some(vec!["plain".into(), "key".into()]);
        self.send(&authenticating.into()).await?;

        let session = match self.next_envelope().await? {
            Envelope::Session(s) => s,
            other => {
                return Err(End::Fail(
                    unexpected(&other, "a session envelope with state \"authenticating\""),
                    close::NORMAL,
                ))
            }
        };
        if session.id.as_deref() != Some(self.session_id.as_str()) {
            return Err(End::Fail(
                Reason::new(
                    codes::SESSION_ERROR,
                    format!(
                        "Wrong session id {:?}: this session is {}",
                        session.id.unwrap_or_default(),
                        self.session_id
                    ),
                ),
                close::NORMAL,
            ));
        }
        match session.state {
            SessionState::Authenticating => {}
            SessionState::Finishing => {
                self.send_finished(None).await?;
                return Err(End::Close(close::NORMAL, String::new()));
            }
            other => {
                return Err(End::Fail(
                    Reason::new(
                        codes::SESSION_ERROR,
                        format!("Unexpected session state \"{other}\": expected \"authenticating\""),
                    ),
                    close::NORMAL,
                ))
            }
        }
        let caller = self
            .authenticate(&session)
            .map_err(|msg| End::Fail(Reason::new(codes::SESSION_AUTHENTICATION_FAILED, msg), close::NORMAL))?;
        let mut established = Session::new(Some(self.session_id.clone()), SessionState::Established);
        established.from = Some(self.server_node());
        established.to = Some(caller.node.clone());
        self.send(&established.into()).await?;
        tracing::info!(session = %self.session_id, node = %caller.node, "session established");
        Ok(Arc::new(caller))
    }

    /// Checks `key` or `plain` credentials against the tenants.
    fn authenticate(&self, session: &Session) -> Result<Caller, String> {
        let from = session.from.as_ref().ok_or("The authenticating envelope must carry from (name@domain)")?;
        let name = from.identity.name.as_deref().ok_or("The from node must be name@domain")?;
        let domain = &self.state.config.domain;
        if !from.identity.domain.eq_ignore_ascii_case(domain) {
            return Err(format!("Unknown identity {} (this gateway serves the domain {domain})", from.identity));
        }
        let auth = session.authentication.as_ref().and_then(Value::as_object);
        let field = |k: &str| auth.and_then(|a| a.get(k)).and_then(Value::as_str);
        let scheme = session.scheme.as_deref().or(field("scheme")).unwrap_or(if field("key").is_some() {
            "key"
        } else {
            "plain"
        });
        let secret = match scheme.to_ascii_lowercase().as_str() {
            "key" => field("key").ok_or("The key scheme needs authentication.key")?,
            "plain" => field("password").ok_or("The plain scheme needs authentication.password")?,
            other => return Err(format!("The authentication scheme \"{other}\" is not supported (use key or plain)")),
        };
        match self.state.tenants.by_identifier(name) {
            Some(tenant) if tenant.key_matches(secret) => Ok(Caller::new(tenant.clone(), from.instance.as_deref())),
            _ => Err("Authentication failed: unknown identifier or wrong key".into()),
        }
    }

    pub(super) async fn send_finished(&mut self, to: Option<Node>) -> Result<(), End> {
        let mut finished = Session::new(Some(self.session_id.clone()), SessionState::Finished);
        finished.from = Some(self.server_node());
        finished.to = to;
        self.send(&finished.into()).await
    }
}

fn unexpected(envelope: &Envelope, expected: &str) -> Reason {
    let got = match envelope {
        Envelope::Session(s) => format!("a session envelope with state \"{}\"", s.state),
        Envelope::Command(_) => "a command".into(),
        Envelope::Message(_) => "a message".into(),
        Envelope::Notification(_) => "a notification".into(),
    };
    Reason::new(codes::SESSION_ERROR, format!("Expected {expected}, got {got}"))
}
