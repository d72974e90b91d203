//! A new campaign: the one constructor both faces start from, a DRAFT with nothing sent.
//!
//! It sits beside the model (`campaign.rs`) rather than in it only while that file is being
//! split; it is an inherent `impl Campaign` either way.

use uuid::Uuid;

use crate::campaign::{Campaign, CampaignKind, CampaignStatus, ChannelType, MessageSpec, Millis};
use crate::window::SendWindow;

impl Campaign {
    /// A DRAFT of `tenant`, created by `sender` at `created`, with a fresh id: a WhatsApp
    /// batch with no name, channel, message or schedule yet, sending in the tenant's
    /// `default_send_window` (`None`: any time). The faces fill in what they read
    /// (`Campaign { name, …, ..Campaign::draft(…) }`), a window of its own included.
    pub fn draft(tenant: &str, default_window: Option<&SendWindow>, sender: String, created: Millis) -> Campaign {
        Campaign {
            id: Uuid::new_v4(),
            tenant: tenant.to_owned(),
            name: String::new(),
            kind: CampaignKind::Batch,
            channel_type: ChannelType::WhatsApp,
            channel_id: String::new(),
            flow_id: None,
            state_id: None,
            master_state: None,
            attendance_redirect: None,
            source_application: None,
            tags: Vec::new(),
            scheduled: None,
            status: CampaignStatus::Draft,
            created,
            send_date: 0,
            completed_at: 0,
            sender,
            failed_reason: None,
            message: MessageSpec::default(),
            rate_limit_per_minute: None,
            allow_open_ticket: false,
            rest: None,
            retried: 0,
            send_window: default_window.cloned(),
        }
    }
}
