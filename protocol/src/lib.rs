//! LIME protocol data types, as BLiP clients put them on the wire.
//!
//! Module map:
//! - [`envelope`]: the four envelope kinds, told apart by key, and their (de)serialisation.
//! - [`command`], [`message`], [`notification`], [`session`]: one envelope kind each.
//! - [`node`]: `name@domain/instance` addresses.
//! - [`uri`]: relative `/path?query` and absolute `lime://identity/path` command URIs.
//! - [`media_type`]: MIME types of resources and contents.
//! - [`reason`]: `{code, description}` and the reference code table.
//! - [`collection`]: the `application/vnd.lime.collection+json` document.
//!
//! Pure data: serde only, no I/O, no async.

pub mod collection;
pub mod command;
pub mod envelope;
pub mod media_type;
pub mod message;
pub mod node;
pub mod notification;
pub mod reason;
pub mod session;
pub mod uri;

pub use collection::Collection;
pub use command::{Command, CommandStatus, Method};
pub use envelope::{Envelope, EnvelopeError, Metadata};
pub use media_type::MediaType;
pub use message::Message;
pub use node::{Identity, Node};
pub use notification::{Event, Notification};
pub use reason::Reason;
pub use session::{Session, SessionState};
pub use uri::LimeUri;
