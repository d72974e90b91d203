//! The campaign lifecycle both faces call, but for the start (in `start`): loading a
//! campaign, and the moves a started campaign makes (pause, resume, cancel).

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
fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("The campaign {id} was not found"))
}

impl Engine {
    /// The campaign `id` of `tenant`; `NotFound` when there is none (or it is another
    /// tenant's).
    pub async fn campaign(&self, tenant: &str, id: Uuid) -> Result<Campaign> {
        self.store.campaign(tenant, id).await?.ok_or_else(|| not_found(id))
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
