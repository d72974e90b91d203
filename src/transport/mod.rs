//! The two faces of the LIME router: WebSocket sessions on `/` and HTTP `POST /commands`.

pub mod http;
pub mod ws;
