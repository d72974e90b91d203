//! What a WebSocket frame or read error means for a session, and the close codes the
//! gateway sends (RFC 6455).

use lime_protocol::reason::codes;
use lime_protocol::Reason;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use super::{Connection, End};

/// Close codes used by the gateway (RFC 6455).
pub(super) mod close {
    pub(in crate::transport::ws) const NORMAL: u16 = 1000;
    pub(in crate::transport::ws) const GOING_AWAY: u16 = 1001;
    pub(in crate::transport::ws) const UNSUPPORTED_DATA: u16 = 1003;
    pub(in crate::transport::ws) const INVALID_PAYLOAD: u16 = 1007;
    pub(in crate::transport::ws) const POLICY: u16 = 1008;
    pub(in crate::transport::ws) const TOO_BIG: u16 = 1009;
}

impl Connection {
    /// The text of a frame; `None` for frames to skip (pings, pongs). Other frames end the
    /// session. After a read error the stream yields nothing more (and the peer may be in
    /// the middle of a frame): the connection is marked unreadable.
    pub(super) fn frame_text(&mut self, frame: Option<Result<WsMessage, WsError>>) -> Result<Option<Utf8Bytes>, End> {
        match frame {
            None => Err(End::Gone),
            Some(Ok(WsMessage::Text(text))) => Ok(Some(text)),
            Some(Ok(WsMessage::Binary(_))) => Err(End::Fail(
                Reason::new(
                    codes::VALIDATION_ERROR,
                    "Binary frames are not supported: send one JSON envelope per text frame",
                ),
                close::UNSUPPORTED_DATA,
            )),
            Some(Ok(WsMessage::Close(_))) => Err(End::Close(close::NORMAL, String::new())),
            Some(Ok(_)) => Ok(None),
            Some(Err(e)) => {
                self.unreadable = true;
                Err(read_error(e))
            }
        }
    }
}

/// Maps a read error to what the peer should see. A text frame that is not UTF-8 gets a
/// `failed` envelope naming the problem; a frame over the limit or a protocol error only
/// the close (with the reason), since nothing of it could be read.
fn read_error(e: WsError) -> End {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => End::Close(
            close::TOO_BIG,
            format!("Envelope of {size} bytes is over the limit of {max_size} (limits.max_envelope_bytes)"),
        ),
        WsError::Capacity(c) => End::Close(close::TOO_BIG, c.to_string()),
        WsError::Utf8(_) => {
            End::Fail(Reason::new(codes::VALIDATION_ERROR, "Text frame is not valid UTF-8"), close::INVALID_PAYLOAD)
        }
        WsError::Protocol(p) => End::Close(close::POLICY, format!("WebSocket protocol error: {p}")),
        _ => End::Gone,
    }
}

/// Close reasons are limited to 123 bytes by RFC 6455.
pub(super) fn truncate_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}
