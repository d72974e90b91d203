//! `GET /campaigns/{id}/messages.csv`: every recipient of a campaign as CSV (RFC 4180),
//! streamed page by page as the client reads, with the filters of the JSON messages list.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures_util::{stream, StreamExt};
use serde::Deserialize;
use utoipa::IntoParams;

use super::campaigns::load;
use super::results::status_filter;
use super::{ApiError, ApiResult, Workspace, Q};
use crate::campaign::{ChannelType, Recipient, RecipientStatus};
use crate::datetime::iso;
use crate::reasons::Reasons;
use crate::state::AppState;

/// The columns, in order.
pub const COLUMNS: [&str; 10] = [
    "phone",
    "identity",
    "status",
    "reason_code",
    "reason_description",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "replied",
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// PENDING, SENT, DELIVERED, READ or FAILED (as the JSON list); absent = every recipient.
    pub status: Option<String>,
}

/// Every recipient as CSV: one row per recipient in audience order.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/messages.csv", tag = "campaigns", params(("id" = String, Path), ExportQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "CSV (RFC 4180, UTF-8, header row): phone, identity, status, reason_code, \
                reason_description, sent_at, delivered_at, read_at, failed_at, replied", content_type = "text/csv"),
              (status = 400, description = "Bad query"), (status = 404, description = "Not found")))]
pub async fn messages_csv(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    Q(q): Q<ExportQuery>,
) -> ApiResult<Response> {
    let status = status_filter(q.status.as_deref())?;
    let c = load(&state, &ws, &id).await?;
    let mut pages = Box::pin(state.engine.recipient_pages(ws.id(), c.id, status));
    // The first page is read before answering, so a store that fails at once is a 503 with
    // a JSON body rather than a 200 cut short.
    let first = pages.next().await.transpose().map_err(ApiError)?;
    let rows = Rows { channel: c.channel_type, reasons: state.engine.reasons.clone() };
    let head = Bytes::from(rows.render(&[], true));
    let first = Bytes::from(rows.render(first.as_deref().unwrap_or_default(), false));
    let campaign = c.id;
    let rest = pages.map(move |page| match page {
        Ok(page) => Ok(Bytes::from(rows.render(&page, false))),
        Err(e) => {
            // The status line is gone: ending the body early is how the client learns.
            tracing::warn!(%campaign, error = %e, "CSV export stopped by a store failure");
            Err(std::io::Error::other("the export could not be completed"))
        }
    });
    let body = stream::iter([Ok::<_, std::io::Error>(head), Ok(first)]).chain(rest);
    let filename = match status {
        None => format!("campaign-{campaign}-messages.csv"),
        Some(s) => format!("campaign-{campaign}-messages-{}.csv", s.rest().to_ascii_lowercase()),
    };
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// What a row needs beyond the recipient.
struct Rows {
    channel: ChannelType,
    reasons: Arc<Reasons>,
}

impl Rows {
    /// The header (when `header`) and then one CSV record per recipient.
    fn render(&self, page: &[Recipient], header: bool) -> Vec<u8> {
        let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
        // Writing into a Vec cannot fail; a failure here would be a bug of the csv crate.
        if header {
            out.write_record(COLUMNS).expect("CSV into memory");
        }
        for r in page {
            let failed = r.status == RecipientStatus::Failed && r.reason != 0;
            let phone = r.phone().map(|p| p.to_string()).unwrap_or_else(|| r.given());
            let identity = r.identity(self.channel);
            let code = if failed { r.reason.to_string() } else { String::new() };
            let description = if failed { self.reasons.describe(r.reason) } else { Cow::Borrowed("") };
            let time = |ms| iso(ms).unwrap_or_default();
            out.write_record([
                safe_cell(&phone).as_ref(),
                safe_cell(&identity).as_ref(),
                r.status.rest(),
                &code,
                safe_cell(&description).as_ref(),
                &time(r.processed_at),
                &time(r.received_at),
                &time(r.read_at),
                &time(r.failed_at),
                // Replies are not attributed to campaign recipients yet (conversations.md):
                // the column is kept, empty = unknown, so files keep their shape when it is.
                "",
            ])
            .expect("CSV into memory");
        }
        out.into_inner().unwrap_or_default()
    }
}

/// A cell a spreadsheet would run as a formula (`=`, `@`, `+`/`-` not followed by digits
/// only, a leading tab or CR) gets a leading `'`: recipients' given text and provider
/// titles are outside input. `+5531…` phone numbers stay as they are.
fn safe_cell(cell: &str) -> Cow<'_, str> {
    let risky = match cell.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !cell[1..].bytes().all(|b| b.is_ascii_digit()) || cell.len() == 1,
        _ => false,
    };
    if risky {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn formulas_are_defused_and_phone_numbers_kept() {
        assert_eq!(safe_cell("+5531998765432"), "+5531998765432");
        assert_eq!(safe_cell("5531998765432@wa.gw.msging.net"), "5531998765432@wa.gw.msging.net");
        assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_cell("+1+1"), "'+1+1");
        assert_eq!(safe_cell("-2+3"), "'-2+3");
        assert_eq!(safe_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(safe_cell("-"), "'-");
        assert_eq!(safe_cell(""), "");
        assert_eq!(safe_cell("Invalid phone number"), "Invalid phone number");
    }
}
