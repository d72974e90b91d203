//! Decoding of stored rows into model types.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::db;
use crate::campaign::{split_given, CampaignStatus, Counts, Params, Recipient, RecipientExtra, RecipientStatus};
use crate::error::{Error, Result};

pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("stored {what} cannot be read: {e}"))
}

/// The JSON document in a row's `data` column (campaigns, contacts and the catalog keep
/// everything there); `what` names it when it cannot be read.
pub(super) fn document<T: serde::de::DeserializeOwned>(row: &AnyRow, what: &str) -> Result<T> {
    let data: String = row.try_get("data").map_err(db)?;
    serde_json::from_str(&data).map_err(|e| corrupt(what, e))
}

pub(super) fn status_name(s: CampaignStatus) -> &'static str {
    s.rest()
}

pub(super) fn status_from(s: &str) -> CampaignStatus {
    CampaignStatus::parse_any(s).and_then(|v| v.first().copied()).unwrap_or(CampaignStatus::Failed)
}

fn recipient_status(v: i64) -> RecipientStatus {
    match v {
        0 => RecipientStatus::Pending,
        1 => RecipientStatus::Sending,
        2 => RecipientStatus::Processed,
        3 => RecipientStatus::Received,
        4 => RecipientStatus::Read,
        _ => RecipientStatus::Failed,
    }
}

pub(super) const RECIPIENT_COLUMNS: &str =
    "seq, status, reason, phone, given, params, context, contact_id, processed_at, received_at, read_at, failed_at, retries, first_reason";

/// What a status move reads and writes: no parameter text, no given text.
pub(super) const PROGRESS_COLUMNS: &str = "seq, status, reason, phone, processed_at, received_at, read_at, failed_at";

/// A recipient's progress only (see [`PROGRESS_COLUMNS`]); its texts are left empty.
pub(super) fn progress_of(row: &AnyRow) -> Result<Recipient> {
    let get_i = |c: &str| row.try_get::<i64, _>(c).map_err(db);
    Ok(Recipient {
        seq: get_i("seq")? as u32,
        status: recipient_status(get_i("status")?),
        reason: get_i("reason")? as u32,
        phone: get_i("phone")? as u64,
        given_plain: false,
        params: Params::default(),
        extra: None,
        processed_at: get_i("processed_at")?,
        received_at: get_i("received_at")?,
        read_at: get_i("read_at")?,
        failed_at: get_i("failed_at")?,
        retries: 0,
        first_reason: 0,
    })
}

pub(super) fn recipient_of(row: &AnyRow) -> Result<Recipient> {
    let get_i = |c: &str| row.try_get::<i64, _>(c).map_err(db);
    let get_s = |c: &str| row.try_get::<Option<String>, _>(c).map_err(db);
    let phone = get_i("phone")? as u64;
    let (given, given_plain) = split_given(phone, get_s("given")?);
    Ok(Recipient {
        seq: get_i("seq")? as u32,
        status: recipient_status(get_i("status")?),
        reason: get_i("reason")? as u32,
        phone,
        given_plain,
        params: Params::from_packed(get_s("params")?.unwrap_or_default()),
        extra: RecipientExtra::boxed(
            given,
            get_s("context")?.map(String::into_boxed_str),
            get_s("contact_id")?.map(String::into_boxed_str),
        ),
        processed_at: get_i("processed_at")?,
        received_at: get_i("received_at")?,
        read_at: get_i("read_at")?,
        failed_at: get_i("failed_at")?,
        retries: get_i("retries")?.clamp(0, i64::from(u16::MAX)) as u16,
        first_reason: get_i("first_reason")? as u32,
    })
}

pub(super) fn counts_of(row: &AnyRow) -> Result<Counts> {
    let g = |c: &str| row.try_get::<i64, _>(c).map(|v| v.max(0) as u64).map_err(db);
    Ok(Counts {
        total: g("total")?,
        pending: g("pending")?,
        processed: g("processed")?,
        received: g("received")?,
        read: g("read_count")?,
        failed: g("failed")?,
        replied: g("replied")?,
    })
}
