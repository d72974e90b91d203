//! Server commands of `postmaster@{domain}`: presence, receipts, ping.

use lime_protocol::MediaType;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::reply::Reply;

/// `set /presence`: the SDKs send it right after `established`; it must succeed quickly.
pub async fn set_presence(resource: &Value) -> Result<Reply> {
    expect_object("presence", resource)?;
    Ok(Reply::empty())
}

/// `set /receipt`: which notifications the client wants; accepted as sent.
pub async fn set_receipt(resource: &Value) -> Result<Reply> {
    expect_object("receipt", resource)?;
    Ok(Reply::empty())
}

/// `get /ping`: proves the session is alive.
pub async fn ping() -> Result<Reply> {
    Ok(Reply::with(MediaType::PING, json!({})))
}

fn expect_object(what: &str, resource: &Value) -> Result<()> {
    match resource {
        Value::Object(_) => Ok(()),
        _ => Err(Error::InvalidArgument(format!("The {what} resource must be a JSON object"))),
    }
}
