//! Starting a campaign: DRAFT → SCHEDULED (a future start time) or RUNNING, with its audience
//! fixed. The one way both faces start one — REST `POST /campaigns/{id}/start`, LIME
//! `set /dispatch/v2` and `set /campaign/full`. The rules live here; the faces word the
//! refusals ([`StartError`]) in their own vocabulary.

use uuid::Uuid;

use super::{selection, Engine};
use crate::campaign::{Campaign, CampaignStatus, Millis, NewRecipient};
use crate::error::{Error, Result};
use crate::spec::RestSpec;

/// How [`Engine::start_campaign`] starts a campaign.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    /// A start time replacing the campaign's `scheduled` (the face checked it lies ahead).
    pub scheduled: Option<Millis>,
    pub audience: Audience,
}

/// Where the recipients of a starting campaign come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Audience {
    /// Those added to it so far (LIME `set /audiences/v2`); at least one.
    #[default]
    Added,
    /// For a campaign made on the REST face: every contact with a phone its filters match
    /// now, fixed from then on (at least one). Any other campaign keeps those added so far.
    Filters,
}

/// Why a campaign did not start. Nothing was written.
#[derive(Debug)]
pub enum StartError {
    /// It is not a DRAFT (any more); its status.
    NotDraft(CampaignStatus),
    /// No recipient was added to it.
    NoRecipients,
    /// Its filters match no contact with a phone.
    NoMatch,
    /// Not found, a filter that no longer compiles, an audience over the limit, the store.
    Failed(Error),
}

impl From<Error> for StartError {
    fn from(e: Error) -> Self {
        StartError::Failed(e)
    }
}

impl Engine {
    /// Starts the DRAFT `id`: checks it is a DRAFT, fixes its audience (checking it is not
    /// empty), applies the new start time, moves it to SCHEDULED or RUNNING and hands it to
    /// the scheduler or the dispatcher.
    ///
    /// The audience, the checks and the status are one store transaction
    /// ([`crate::store::Store::start_campaign`]): a refused start writes nothing. The early
    /// DRAFT check only spares scanning the contacts for a campaign that cannot start.
    pub async fn start_campaign(&self, tenant: &str, id: Uuid, request: StartRequest) -> Result<Campaign, StartError> {
        let campaign = self.campaign(tenant, id).await?;
        if campaign.status != CampaignStatus::Draft {
            return Err(StartError::NotDraft(campaign.status));
        }
        let audience = match (request.audience, RestSpec::of(&campaign)) {
            (Audience::Filters, Some(spec)) => {
                let audience = selection::from_contacts(&*self.store, tenant, &campaign, &spec).await?;
                if audience.is_empty() {
                    return Err(StartError::NoMatch);
                }
                audience
            }
            // The recipients added so far; the store counts them inside the transaction.
            _ => Vec::new(),
        };
        let now = self.clock.now();
        let mut refused = None;
        let started = self
            .store
            .start_campaign(tenant, id, audience, self.settings.max_recipients_per_campaign, &mut |c, total| {
                if c.status != CampaignStatus::Draft {
                    refused = Some(StartError::NotDraft(c.status));
                    return Err(Error::NotAllowed(format!("The campaign is {}, not DRAFT", c.status.rest())));
                }
                if total == 0 {
                    refused = Some(StartError::NoRecipients);
                    return Err(Error::InvalidArgument("The campaign has no audience".into()));
                }
                if let Some(at) = request.scheduled {
                    c.scheduled = Some(at);
                }
                begin(c, now);
                Ok(())
            })
            .await;
        let started = match (started, refused) {
            (Err(_), Some(refusal)) => return Err(refusal),
            (started, _) => started?,
        };
        self.after_start(&started)?;
        Ok(started)
    }

    /// Stores a new campaign with its audience, started at once (or scheduled): LIME
    /// `set /campaign/full`, whole or not at all.
    pub async fn create_started(&self, mut campaign: Campaign, audience: Vec<NewRecipient>) -> Result<Campaign> {
        begin(&mut campaign, self.clock.now());
        self.store.insert_campaign(campaign.clone(), audience).await?;
        self.after_start(&campaign)?;
        Ok(campaign)
    }

    /// Hands a freshly started campaign to the scheduler or the dispatcher.
    fn after_start(&self, campaign: &Campaign) -> Result<()> {
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
}

/// SCHEDULED when the campaign's start time lies after `now`, else RUNNING from `now`.
fn begin(c: &mut Campaign, now: Millis) {
    match c.scheduled {
        Some(at) if at > now => c.status = CampaignStatus::Scheduled,
        _ => {
            c.status = CampaignStatus::Running;
            c.send_date = now;
        }
    }
}
