//! Command handlers, one file per URI family. Plain async functions: typed arguments in,
//! `Result<Reply, Error>` out; they never touch a socket.

pub mod server;
