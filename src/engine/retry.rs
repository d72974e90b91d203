//! Retrying a campaign's failed recipients (campaign-features.md, "Retry failed recipients"):
//! which failures a retry takes back, from which statuses, and the dispatcher's part.

use uuid::Uuid;

use super::Engine;
use crate::campaign::{Campaign, CampaignStatus};
use crate::error::{Error, Result};
use crate::reasons::{NEVER_RETRIED, TRANSIENT};
use crate::store::RetryReasons;

/// Which failed recipients a retry takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryScope {
    /// Every failure but [`NEVER_RETRIED`].
    Failed,
    /// Only failures that can succeed later ([`TRANSIENT`]).
    Transient,
}

/// A retry: its scope, narrowed to `reason_codes` when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryRequest {
    pub scope: RetryScope,
    pub reason_codes: Option<Vec<u32>>,
}

impl RetryRequest {
    /// The reasons the store takes back. An invalid number (1001) or an opted-out person
    /// (1008) is never retried, even when `reason_codes` names it.
    fn reasons(&self) -> RetryReasons {
        let allowed = |code: &u32| !NEVER_RETRIED.contains(code);
        match (self.scope, &self.reason_codes) {
            (RetryScope::Failed, None) => RetryReasons::AllBut(NEVER_RETRIED.to_vec()),
            (RetryScope::Failed, Some(codes)) => RetryReasons::Only(codes.iter().copied().filter(allowed).collect()),
            (RetryScope::Transient, None) => RetryReasons::Only(TRANSIENT.to_vec()),
            (RetryScope::Transient, Some(codes)) => {
                RetryReasons::Only(codes.iter().copied().filter(|c| TRANSIENT.contains(c)).collect())
            }
        }
    }
}

/// What a retry did.
#[derive(Debug, Clone)]
pub struct Retried {
    pub campaign: Campaign,
    /// Recipients moved back to PENDING.
    pub recipients: u64,
}

impl Engine {
    /// Moves the failed recipients `request` names back to PENDING, each with its next
    /// message id (`…#2`), and sends them again.
    ///
    /// A COMPLETED or FAILED campaign becomes RUNNING; a RUNNING one keeps running and its
    /// worker starts over from the first PENDING recipient; a PAUSED one stays PAUSED and
    /// sends them once resumed. DRAFT, SCHEDULED and CANCELLED campaigns have nothing to
    /// retry (`NotAllowed`). A retry that matches nobody changes nothing.
    pub async fn retry_failed(&self, tenant: &str, id: Uuid, request: &RetryRequest) -> Result<Retried> {
        let which = request.reasons();
        let (campaign, recipients) = self
            .store
            .retry_failed(tenant, id, &which, &mut |c, moved| {
                use CampaignStatus::{Cancelled, Completed, Draft, Failed, Running, Scheduled};
                if matches!(c.status, Draft | Scheduled | Cancelled) {
                    return Err(Error::NotAllowed(format!(
                        "A {} campaign has no failed recipients to retry",
                        c.status.rest()
                    )));
                }
                if moved == 0 {
                    return Ok(());
                }
                c.retried += 1;
                if matches!(c.status, Completed | Failed) {
                    c.status = Running;
                    c.completed_at = 0;
                    c.failed_reason = None;
                }
                Ok(())
            })
            .await?;
        if recipients > 0 {
            // A worker that is still on the campaign is past the recipients moved back (or
            // finishing after completing it): stopped, so that the next one reads from the
            // first PENDING; `start` waits for the stopped one to return.
            self.dispatcher.stop(id);
            if campaign.status == CampaignStatus::Running {
                self.dispatcher.start(tenant, id);
            }
            tracing::info!(campaign = %id, recipients, "failed recipients retried");
        }
        Ok(Retried { campaign, recipients })
    }
}
