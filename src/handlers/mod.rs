//! Command handlers, one file per URI family. Plain async functions: typed arguments in,
//! `Result<Reply, Error>` out; they never touch a socket.

pub mod audiences;
pub mod campaign;
pub mod campaigns;
pub mod contacts;
pub mod contexts;
pub mod lime_view;
pub mod server;
