//! The campaign lifecycle both faces call: loading a campaign, starting it, and the moves a
//! started campaign makes (pause, resume, cancel). The rules live here; the faces only word
//! the refusals in their own vocabulary.

use uuid::Uuid;

use super::Engine;
use crate::campaign::{Campaign, CampaignStatus};
use crate::error::{Error, Result};

/// A move of a started campaign that the dispatcher follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// RUNNING → PAUSED: no new send after the one in progress.
    Pause,
    /// PAUSED → RUNNING: continues from the first PENDING recipient.
    Resume,
    /// Any status but COMPLETED / CANCELLED → CANCELLED; unsent recipients stay PENDING.
    Cancel,
}

impl Transition {
    /// Why a campaign in `status` cannot make this move, if it cannot.
    fn refusal(self, status: CampaignStatus) -> Option<Error> {
        use CampaignStatus::{Cancelled, Completed, Paused, Running};
        match self {
            Transition::Pause if status != Running => Some(conflict("paused", status, "RUNNING")),
            Transition::Resume if status != Paused => Some(conflict("resumed", status, "PAUSED")),
            Transition::Cancel if matches!(status, Completed | Cancelled) => {
                Some(Error::NotAllowed(format!("A {} campaign cannot be cancelled", status.rest())))
            }
            _ => None,
        }
    }

    fn target(self) -> CampaignStatus {
        match self {
            Transition::Pause => CampaignStatus::Paused,
            Transition::Resume => CampaignStatus::Running,
            Transition::Cancel => CampaignStatus::Cancelled,
        }
    }
}

fn conflict(action: &str, status: CampaignStatus, needed: &str) -> Error {
    Error::NotAllowed(format!("Only {needed} campaigns can be {action}; this one is {}", status.rest()))
}

/// The LIME wording of a missing campaign (the store's too).
pub fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("The campaign {id} was not found"))
}

impl Engine {
    /// The campaign `id` of `tenant`; `NotFound` when there is none (or it is another
    /// tenant's).
    pub async fn campaign(&self, tenant: &str, id: Uuid) -> Result<Campaign> {
        self.store.campaign(tenant, id).await?.ok_or_else(|| not_found(id))
    }

    /// DRAFT → SCHEDULED (when it has a future `scheduled`) or RUNNING. Needs ≥ 1 recipient.
    pub async fn dispatch(&self, tenant: &str, id: Uuid) -> Result<Campaign> {
        let counts = self.store.counts(tenant, id).await?;
        let now = self.clock.now();
        let campaign = self
            .store
            .update_campaign(tenant, id, &mut |c| {
                if c.status != CampaignStatus::Draft {
                    return Err(Error::NotAllowed(format!(
                        "The campaign was already dispatched (status {})",
                        c.status.lime()
                    )));
                }
                if counts.total == 0 {
                    return Err(Error::InvalidArgument("The campaign has no audience: add recipients first".into()));
                }
                match c.scheduled {
                    Some(at) if at > now => c.status = CampaignStatus::Scheduled,
                    _ => {
                        c.status = CampaignStatus::Running;
                        c.send_date = now;
                    }
                }
                Ok(())
            })
            .await?;
        self.after_start(&campaign)?;
        Ok(campaign)
    }

    /// Hands a freshly started campaign to the scheduler or the dispatcher.
    pub fn after_start(&self, campaign: &Campaign) -> Result<()> {
        match campaign.status {
            CampaignStatus::Scheduled => {
                self.scheduler.schedule(&campaign.tenant, campaign.id, campaign.scheduled.unwrap_or(0))
            }
            CampaignStatus::Running => {
                self.dispatcher.start(&campaign.tenant, campaign.id);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Makes `transition` if the campaign's status allows it, then tells the dispatcher.
    pub async fn transition(&self, tenant: &str, id: Uuid, transition: Transition) -> Result<Campaign> {
        let now = self.clock.now();
        let campaign = self
            .store
            .update_campaign(tenant, id, &mut |c| {
                if let Some(refusal) = transition.refusal(c.status) {
                    return Err(refusal);
                }
                c.status = transition.target();
                if transition == Transition::Cancel {
                    c.completed_at = now;
                }
                Ok(())
            })
            .await?;
        match transition {
            Transition::Pause => self.dispatcher.pause(id),
            Transition::Resume => self.dispatcher.resume(tenant, id),
            Transition::Cancel => self.dispatcher.cancel(id),
        }
        Ok(campaign)
    }
}
