//! The two faces of the LIME router: WebSocket sessions on `/` and HTTP `POST /commands`.

pub mod http;
pub mod ws;

/// The error body now lives in [`crate::problem`]; kept here for `ws` and `http`.
