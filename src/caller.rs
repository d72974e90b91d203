//! Who sent a command: the authenticated tenant and the node it speaks from.

use std::sync::Arc;

use lime_protocol::Node;

use crate::tenant::Tenant;

/// The authenticated sender of a command, the same for WebSocket sessions and HTTP requests.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Arc<Tenant>,
    /// `{identifier}@{domain}/{instance}`: where responses are addressed.
    pub node: Node,
    /// Where the command came from (a label of `irisgate_commands_total`).
    pub transport: crate::metrics::Transport,
}

impl Caller {
    pub fn new(tenant: Arc<Tenant>, instance: Option<&str>) -> Caller {
        let node = tenant.identity.with_instance(instance);
        Caller { tenant, node, transport: crate::metrics::Transport::Ws }
    }

    /// The same caller, over `POST /commands`.
    pub fn over(self, transport: crate::metrics::Transport) -> Caller {
        Caller { transport, ..self }
    }
}
