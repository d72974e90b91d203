//! Defaults of the configuration keys serde fills when a key is absent (each documented in
//! the README's "Configuration").

use std::net::SocketAddr;

pub(super) fn listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
pub(super) fn domain() -> String {
    "msging.net".into()
}
pub(super) fn instance() -> String {
    "irisgate1".into()
}
pub(super) fn country_code() -> String {
    "55".into()
}
pub(super) fn features() -> Vec<String> {
    vec!["campaigns".into()]
}
/// BLiP's documented ceiling: a bot written for BLiP already stays under it.
pub(super) fn commands_per_second() -> u32 {
    crate::tenant::DEFAULT_COMMANDS_PER_SECOND
}
pub(super) fn provider() -> super::ProviderKind {
    super::ProviderKind::Simulator
}
pub(super) fn delivered_after_ms() -> u64 {
    50
}
pub(super) fn read_after_ms() -> u64 {
    200
}
pub(super) fn language() -> String {
    "pt_BR".into()
}
pub(super) fn template_status() -> String {
    "APPROVED".into()
}
