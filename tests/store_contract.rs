//! The store contract: the same checks against every backend — memory, SQLite (a temporary
//! file) and PostgreSQL (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`,
//! each test in a schema of its own). Without a reachable PostgreSQL the PostgreSQL tests
//! are skipped with a message, except under `CI=true`, where they fail.

mod support;

use std::sync::Arc;

use irisgate::campaign::{
    message_id, Campaign, CampaignKind, CampaignStatus, ChannelType, MessageSpec, NewRecipient, Params, RecipientStatus,
};
use irisgate::catalog::{ChannelDef, TagDef};
use irisgate::contact::{Contact, ContactKey, ContactPatch, ContextWrite};
use irisgate::conversation::{InboundWrite, InboxEntry, Suppression, SuppressionChange};
use irisgate::error::Error;
use irisgate::outbound::{Content, OutboundChange, OutboundMessage, OutboundStatus};
use irisgate::phone::PhoneNormalizer;
use irisgate::segment::{Segment, SegmentDeleted};
use irisgate::store::{CampaignFilter, Dialect, MemoryStore, Outcome, Page, Receipt, SqlStore, Store};
use irisgate::store::{IdempotencyBegin, IdempotencyWindow, RetryReasons, StoredResponse};
use serde_json::json;
use uuid::Uuid;

/// A store under test and what keeps it alive.
struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    reopen: Option<String>,
    dialect: Option<Dialect>,
}

async fn memory() -> Option<Backend> {
    Some(Backend { store: Arc::new(MemoryStore::new()), _dir: None, reopen: None, dialect: None })
}

async fn sqlite() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = SqlStore::connect(&url, Dialect::Sqlite).await.unwrap();
    Some(Backend { store: Arc::new(store), _dir: Some(dir), reopen: Some(url), dialect: Some(Dialect::Sqlite) })
}

async fn postgres() -> Option<Backend> {
    let url = support::postgres::fresh_schema("ig_test").await?;
    let store = SqlStore::connect(&url, Dialect::Postgres).await.unwrap();
    Some(Backend { store: Arc::new(store), _dir: None, reopen: Some(url), dialect: Some(Dialect::Postgres) })
}

fn phones() -> PhoneNormalizer {
    PhoneNormalizer::new("55").unwrap()
}

fn campaign(tenant: &str, created: i64) -> Campaign {
    Campaign {
        id: Uuid::new_v4(),
        tenant: tenant.into(),
        name: format!("c{created}"),
        kind: CampaignKind::Batch,
        channel_type: ChannelType::WhatsApp,
        channel_id: "ch".into(),
        flow_id: None,
        state_id: None,
        master_state: None,
        attendance_redirect: None,
        source_application: Some("Postman".into()),
        tags: vec![],
        scheduled: None,
        status: CampaignStatus::Draft,
        created,
        send_date: 0,
        completed_at: 0,
        sender: format!("{tenant}@msging.net"),
        failed_reason: None,
        message: MessageSpec { template: Some("t".into()), ..MessageSpec::default() },
        rate_limit_per_minute: None,
        allow_open_ticket: false,
        rest: None,
        retried: 0,
        send_window: None,
    }
}

fn recipient(number: &str, param: &str) -> NewRecipient {
    NewRecipient {
        given: number.into(),
        phone: phones().normalize(number).ok(),
        params: Params::from_pairs([("1", param)]).unwrap(),
        context: Some(r#"{"k":1}"#.into()),
        contact_id: None,
    }
}

fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+55319{:08}", 80_001_000 + i)).collect()
}

const ALL: Page = Page { skip: 0, take: u64::MAX };

async fn campaigns_are_per_tenant_and_listed_newest_first(b: Backend) {
    let s = &b.store;
    let old = campaign("t1", 1000);
    let new = campaign("t1", 2000);
    let other = campaign("t2", 3000);
    for c in [&old, &new, &other] {
        s.insert_campaign(c.clone(), vec![]).await.unwrap();
    }
    assert_eq!(s.campaign("t1", old.id).await.unwrap().unwrap(), old);
    assert!(s.campaign("t2", old.id).await.unwrap().is_none(), "another tenant's id is not found");
    let (total, list) = s.campaigns("t1", &CampaignFilter::default(), ALL).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(list.iter().map(|c| c.id).collect::<Vec<_>>(), vec![new.id, old.id]);
    let recent = CampaignFilter { created_from: Some(1500), ..CampaignFilter::default() };
    assert_eq!(s.campaigns("t1", &recent, ALL).await.unwrap().0, 1);
    let page = s.campaigns("t1", &CampaignFilter::default(), Page { skip: 1, take: 1 }).await.unwrap();
    assert_eq!((page.0, page.1[0].id), (2, old.id));
}

async fn updates_are_atomic_and_a_refused_change_writes_nothing(b: Backend) {
    let s = &b.store;
    let c = campaign("t1", 1);
    s.insert_campaign(c.clone(), vec![]).await.unwrap();
    let e = s
        .update_campaign("t1", c.id, &mut |x| {
            x.name = "changed".into();
            Err(Error::NotAllowed("no".into()))
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotAllowed(_)));
    assert_eq!(s.campaign("t1", c.id).await.unwrap().unwrap().name, c.name);
    let updated = s
        .update_campaign("t1", c.id, &mut |x| {
            x.status = CampaignStatus::Running;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(updated.status, CampaignStatus::Running);
    assert!(matches!(s.update_campaign("t2", c.id, &mut |_| Ok(())).await, Err(Error::NotFound(_))));
    let running = s.campaigns_in(&[CampaignStatus::Running]).await.unwrap();
    assert!(running.iter().any(|x| x.id == c.id));
    assert!(matches!(s.delete_campaign("t1", c.id, &[CampaignStatus::Draft]).await, Err(Error::NotAllowed(_))));
    let d = campaign("t1", 2);
    s.insert_campaign(d.clone(), vec![recipient("+5531998761234", "a")]).await.unwrap();
    s.delete_campaign("t1", d.id, &[CampaignStatus::Draft]).await.unwrap();
    assert!(s.campaign("t1", d.id).await.unwrap().is_none());
    assert!(matches!(s.counts("t1", d.id).await, Err(Error::NotFound(_))));
}

async fn audiences_deduplicate_by_phone_and_respect_the_limit(b: Backend) {
    let s = &b.store;
    let c = campaign("t1", 1);
    let added = s
        .insert_campaign(c.clone(), vec![recipient("+5531998761234", "first"), recipient("+5531998765678", "x")])
        .await
        .unwrap();
    assert_eq!((added.added, added.updated, added.total), (2, 0, 2));
    let more = s
        .add_recipients(
            "t1",
            c.id,
            vec![
                recipient("+5531998761234", "second"),
                recipient("not a phone", "y"),
                recipient("+5531998760101", "z"),
            ],
            100,
        )
        .await
        .unwrap();
    assert_eq!((more.added, more.updated, more.total), (2, 1, 4));
    let (_, all) = s.recipients("t1", c.id, None, ALL).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].params.get("1"), Some("second"), "the later entry replaced the params, kept its place");
    assert_eq!(all[2].phone, 0, "an invalid number is kept, as invalid");
    assert_eq!(all[2].given(), "not a phone");
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    let over = s.add_recipients("t1", c.id, vec![recipient("+5531998769999", "w")], 4).await;
    assert!(matches!(over, Err(Error::InvalidArgument(_))));
    assert_eq!(s.counts("t1", c.id).await.unwrap().total, 4, "nothing added past the limit");
    s.update_campaign("t1", c.id, &mut |x| {
        x.status = CampaignStatus::Running;
        Ok(())
    })
    .await
    .unwrap();
    let late = s.add_recipients("t1", c.id, vec![recipient("+5531998768888", "v")], 100).await;
    assert!(matches!(late, Err(Error::NotAllowed(_))), "no audience after dispatch");
}

async fn a_phone_twice_in_one_batch_keeps_its_first_place_and_the_later_data(b: Backend) {
    let s = &b.store;
    let c = campaign("t1", 1);
    let a = "+5531998761234";
    let added = s
        .insert_campaign(
            c.clone(),
            vec![recipient(a, "first"), recipient("+5531998765678", "b"), recipient(a, "later")],
        )
        .await
        .unwrap();
    assert_eq!((added.added, added.updated, added.total), (2, 1, 2));
    let more = s
        .add_recipients(
            "t1",
            c.id,
            vec![recipient("+5531998760101", "c1"), recipient("+5531998760101", "c2"), recipient(a, "again")],
            100,
        )
        .await
        .unwrap();
    assert_eq!((more.added, more.updated, more.total), (1, 2, 3));
    let (_, all) = s.recipients("t1", c.id, None, ALL).await.unwrap();
    let seen: Vec<_> = all.iter().map(|r| (r.seq, r.params.get("1").unwrap_or_default().to_owned())).collect();
    assert_eq!(seen, vec![(0, "again".to_owned()), (1, "b".to_owned()), (2, "c2".to_owned())]);
}

async fn a_start_adds_the_audience_and_the_status_together_or_nothing(b: Backend) {
    let s = &b.store;
    let c = campaign("t1", 1);
    s.insert_campaign(c.clone(), vec![recipient("+5531998761234", "a")]).await.unwrap();
    let audience = || vec![recipient("+5531998765678", "b"), recipient("+5531998760101", "c")];
    // The change refuses: neither the audience nor the status is written.
    let refused = s
        .start_campaign("t1", c.id, audience(), 100, &mut |_, total| {
            assert_eq!(total, 3, "the change sees the total with the audience added");
            Err(Error::NotAllowed("no".into()))
        })
        .await;
    assert!(matches!(refused, Err(Error::NotAllowed(_))));
    assert_eq!(s.counts("t1", c.id).await.unwrap().total, 1, "a refused start adds nobody");
    // Over the limit: nothing written, the change never asked.
    let over = s.start_campaign("t1", c.id, audience(), 2, &mut |_, _| panic!("not over the limit")).await;
    assert!(matches!(over, Err(Error::InvalidArgument(_))));
    assert_eq!(s.campaign("t1", c.id).await.unwrap().unwrap().status, CampaignStatus::Draft);
    // Another tenant's campaign is not found.
    let foreign = s.start_campaign("t2", c.id, audience(), 100, &mut |_, _| Ok(())).await;
    assert!(matches!(foreign, Err(Error::NotFound(_))));
    // Accepted: both written.
    let started = s
        .start_campaign("t1", c.id, audience(), 100, &mut |x, _| {
            x.status = CampaignStatus::Running;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(started.status, CampaignStatus::Running);
    assert_eq!(s.campaign("t1", c.id).await.unwrap().unwrap().status, CampaignStatus::Running);
    assert_eq!(s.counts("t1", c.id).await.unwrap().total, 3);
    // An empty audience adds nothing and the change sees the stored total.
    let d = campaign("t1", 2);
    s.insert_campaign(d.clone(), vec![recipient("+5531998761234", "a")]).await.unwrap();
    s.start_campaign("t1", d.id, Vec::new(), 100, &mut |_, total| {
        assert_eq!(total, 1);
        Ok(())
    })
    .await
    .unwrap();
}

async fn recipients_move_only_forward_and_counts_follow(b: Backend) {
    let s = &b.store;
    let c = campaign("t1", 1);
    let list = numbers(5);
    s.insert_campaign(c.clone(), list.iter().map(|n| recipient(n, "p")).collect()).await.unwrap();
    let pending = s.pending(c.id, 0, 3).await.unwrap();
    assert_eq!(pending.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(s.pending(c.id, 3, 10).await.unwrap().len(), 2);
    let claimed = s.mark_sending(c.id, &[0, 1, 2], 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(s.mark_sending(c.id, &[0, 1], 11).await.unwrap().is_empty(), "a recipient is claimed once");
    let mut overlap = s.mark_sending(c.id, &[2, 3, 99], 11).await.unwrap();
    overlap.sort_unstable();
    assert_eq!(
        overlap,
        vec![3],
        "of an overlapping claim only the unclaimed recipient moves; unknown seqs are ignored"
    );
    assert_eq!(s.sending(c.id).await.unwrap().len(), 4);
    assert_eq!(s.counts("t1", c.id).await.unwrap().pending, 5, "SENDING still counts as pending");
    assert_eq!(s.pending(c.id, 0, 10).await.unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4]);
    let at = |status, seq, t| Outcome { seq, status, at: t, reason: 0 };
    s.record_outcomes(c.id, &[at(RecipientStatus::Processed, 0, 20), at(RecipientStatus::Processed, 1, 20)])
        .await
        .unwrap();
    s.record_outcomes(c.id, &[Outcome { seq: 2, status: RecipientStatus::Failed, at: 21, reason: 1002 }])
        .await
        .unwrap();
    let receipt = |seq, status, t| Receipt { message_id: message_id(c.id, seq), status, at: t, reason: 0 };
    let n = s
        .apply_receipts(&[
            receipt(0, RecipientStatus::Read, 40),
            receipt(0, RecipientStatus::Received, 50),
            receipt(1, RecipientStatus::Received, 30),
            receipt(2, RecipientStatus::Read, 60),
            Receipt { message_id: "wamid.unknown".into(), status: RecipientStatus::Read, at: 1, reason: 0 },
        ])
        .await
        .unwrap();
    assert_eq!(n, 2, "late RECEIVED after READ, READ after FAILED and unknown ids change nothing");
    let (_, all) = s.recipients("t1", c.id, None, ALL).await.unwrap();
    assert_eq!(all[0].status, RecipientStatus::Read);
    assert_eq!(
        (all[0].processed_at, all[0].received_at, all[0].read_at),
        (20, 40, 40),
        "READ without RECEIVED sets both"
    );
    assert_eq!(all[1].status, RecipientStatus::Received);
    assert_eq!((all[2].status, all[2].reason), (RecipientStatus::Failed, 1002));
    s.link_message_id("wamid.provider-own", c.id, 3).await.unwrap();
    s.record_outcomes(c.id, &[at(RecipientStatus::Processed, 3, 70)]).await.unwrap();
    s.apply_receipts(&[Receipt {
        message_id: "wamid.provider-own".into(),
        status: RecipientStatus::Received,
        at: 80,
        reason: 0,
    }])
    .await
    .unwrap();
    let counts = s.counts("t1", c.id).await.unwrap();
    assert_eq!(
        (counts.total, counts.pending, counts.processed, counts.received, counts.read, counts.failed),
        (5, 1, 0, 2, 1, 1)
    );
    let (failed_total, failed) = s.recipients("t1", c.id, Some(RecipientStatus::Failed), ALL).await.unwrap();
    assert_eq!((failed_total, failed.len(), failed[0].seq), (1, 1, 2));
    let (_, page) = s.recipients("t1", c.id, None, Page { skip: 3, take: 10 }).await.unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3, 4]);
}

async fn keyset_pages_walk_the_audience_in_order_by_status_and_per_tenant(b: Backend) {
    let s = &b.store;
    let c = campaign("t1", 1);
    s.insert_campaign(c.clone(), numbers(7).iter().map(|n| recipient(n, "p")).collect()).await.unwrap();
    s.mark_sending(c.id, &[1, 2, 3, 4, 5], 10).await.unwrap();
    let outcome =
        |seq, status| Outcome { seq, status, at: 20, reason: if status == RecipientStatus::Failed { 1002 } else { 0 } };
    s.record_outcomes(
        c.id,
        &[
            outcome(1, RecipientStatus::Processed),
            outcome(3, RecipientStatus::Failed),
            outcome(5, RecipientStatus::Processed),
        ],
    )
    .await
    .unwrap();
    let seqs = |v: Vec<irisgate::campaign::Recipient>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = s.recipients_after("t1", c.id, None, after, 3).await.unwrap();
        assert!(page.len() <= 3, "a page holds at most its limit");
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        walked.extend(seqs(page));
    }
    assert_eq!(walked, (0..7).collect::<Vec<_>>(), "every recipient once, in order");
    let processed = s.recipients_after("t1", c.id, Some(RecipientStatus::Processed), None, 10).await.unwrap();
    assert_eq!(seqs(processed), vec![1, 5]);
    let after_one = s.recipients_after("t1", c.id, Some(RecipientStatus::Processed), Some(1), 10).await.unwrap();
    assert_eq!(seqs(after_one), vec![5]);
    let pending = s.recipients_after("t1", c.id, Some(RecipientStatus::Pending), Some(0), 2).await.unwrap();
    assert_eq!(seqs(pending), vec![2, 4], "PENDING includes SENDING, as the counts do");
    let failed = s.recipients_after("t1", c.id, Some(RecipientStatus::Failed), None, 10).await.unwrap();
    assert_eq!((failed.len(), failed[0].reason), (1, 1002));
    assert!(s.recipients_after("t1", c.id, None, Some(6), 10).await.unwrap().is_empty());
    assert!(
        matches!(s.recipients_after("t2", c.id, None, None, 10).await, Err(Error::NotFound(_))),
        "another tenant's campaign is not found"
    );
}

async fn contacts_and_contexts_merge_and_are_found_every_way(b: Backend) {
    let s = &b.store;
    let identity = "5531998761234@wa.gw.msging.net";
    s.patch_contacts(
        "t1",
        vec![ContactPatch {
            identity: Some(identity.into()),
            phone: Some(5531998761234),
            merge_extras: vec![("1".into(), json!("a")), ("x".into(), json!("keep"))],
            ..ContactPatch::default()
        }],
    )
    .await
    .unwrap();
    s.patch_contacts(
        "t1",
        vec![ContactPatch {
            identity: Some(identity.into()),
            phone: Some(5531998761234),
            merge_extras: vec![("1".into(), json!("b"))],
            has_open_conversation: Some(true),
            ..ContactPatch::default()
        }],
    )
    .await
    .unwrap();
    let by_identity = s.contact("t1", &ContactKey::Identity(identity.to_uppercase())).await.unwrap().unwrap();
    assert_eq!(by_identity.extras["1"], json!("b"));
    assert_eq!(by_identity.extras["x"], json!("keep"));
    let by_phone = s.contact("t1", &ContactKey::Phone(5531998761234)).await.unwrap().unwrap();
    assert_eq!(by_phone.id, by_identity.id);
    let via_rcs = s.contact("t1", &ContactKey::Identity("5531998761234@googlercs.gw.msging.net".into())).await.unwrap();
    assert_eq!(via_rcs.unwrap().id, by_identity.id, "an identity named by the phone finds the contact");
    assert!(s.contact("t2", &ContactKey::Phone(5531998761234)).await.unwrap().is_none());
    assert_eq!(s.open_conversations("t1", &[5531998761234, 5531998765678]).await.unwrap(), vec![5531998761234]);
    let second =
        Contact { id: "c2".into(), name: Some("Bia".into()), phone: Some(5531998765678), ..Contact::default() };
    s.put_contact("t1", second.clone()).await.unwrap();
    // Many at once, each found as `contact` finds it: by identity, else by its phone.
    let asked: Vec<String> = [
        identity.to_uppercase(),
        "5531998765678@wa.gw.msging.net".into(),
        "5531998761234@googlercs.gw.msging.net".into(),
        "5531990000000@wa.gw.msging.net".into(),
    ]
    .into();
    let found = s.contacts_of("t1", &asked).await.unwrap();
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[&asked[0]].id, by_identity.id);
    assert_eq!(found[&asked[1]].id, "c2", "by phone: c2 has no identity");
    assert_eq!(found[&asked[2]].id, by_identity.id);
    assert!(s.contacts_of("t2", &asked).await.unwrap().is_empty(), "per tenant");
    let (total, list) = s.contacts("t1", Page { skip: 0, take: 10 }).await.unwrap();
    assert_eq!((total, list[1].id.as_str()), (2, "c2"), "creation order");
    let mut seen = Vec::new();
    s.scan_contacts("t1", &mut |c: &Contact| seen.push(c.id.clone())).await.unwrap();
    assert_eq!(seen.len(), 2);
    assert!(s.delete_contact("t1", "c2").await.unwrap());
    assert!(!s.delete_contact("t1", "c2").await.unwrap());
    s.write_contexts(
        "t1",
        vec![ContextWrite {
            identity: identity.into(),
            variables: vec![("CPF".into(), json!("123")), ("n".into(), json!({"a": 1}))],
        }],
    )
    .await
    .unwrap();
    assert_eq!(s.context_names("t1", identity).await.unwrap(), vec!["cpf".to_owned(), "n".to_owned()]);
    assert_eq!(s.context_value("t1", identity, "Cpf").await.unwrap(), Some(json!("123")));
    assert_eq!(s.context_value("t1", identity, "n").await.unwrap(), Some(json!({"a": 1})));
    assert_eq!(s.context_value("t2", identity, "n").await.unwrap(), None);
}

async fn catalog_entries_are_replaced_by_id_in_order(b: Backend) {
    let s = &b.store;
    let channel = |id: &str, name: &str| ChannelDef {
        id: id.into(),
        channel_type: ChannelType::WhatsApp,
        provider: "simulator".into(),
        default: false,
        name: name.into(),
        delivered_after_ms: 0,
        read_after_ms: 0,
        max_per_second: None,
        ledger: None,
        created: 0,
    };
    s.put_channel("t1", channel("a", "A")).await.unwrap();
    s.put_channel("t1", channel("b", "B")).await.unwrap();
    s.put_channel("t1", channel("a", "A2")).await.unwrap();
    let list = s.channels("t1").await.unwrap();
    assert_eq!(
        list.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect::<Vec<_>>(),
        vec![("a", "A2"), ("b", "B")]
    );
    assert!(s.channels("t2").await.unwrap().is_empty());
    s.put_tag("t1", TagDef { id: "vip".into(), name: "VIP".into(), color: None, created: 0 }).await.unwrap();
    assert_eq!(s.tags("t1").await.unwrap().len(), 1);
}

async fn running_campaigns_are_leased_to_one_node_at_a_time(b: Backend) {
    let s = &b.store;
    let mut c = campaign("t1", 1);
    c.status = CampaignStatus::Running;
    s.insert_campaign(c.clone(), vec![]).await.unwrap();
    let a = s.claim("node-a", 1_000, 10_000).await.unwrap();
    assert!(a.iter().any(|x| x.id == c.id));
    let b_claims = s.claim("node-b", 2_000, 10_000).await.unwrap();
    if b.dialect == Some(Dialect::Postgres) {
        assert!(!b_claims.iter().any(|x| x.id == c.id), "leased to node-a");
        assert!(s.claim("node-a", 5_000, 10_000).await.unwrap().iter().any(|x| x.id == c.id), "renewed");
        assert!(!s.claim("node-b", 14_000, 10_000).await.unwrap().iter().any(|x| x.id == c.id), "renewal moved expiry");
        assert!(s.claim("node-b", 15_001, 10_000).await.unwrap().iter().any(|x| x.id == c.id), "expired: taken over");
        let first = s.reserve_slot("t1", "ch", 1_000, 100).await.unwrap().unwrap();
        let second = s.reserve_slot("t1", "ch", 1_000, 100).await.unwrap().unwrap();
        assert_eq!(second - first, 100, "slots of a shared channel ceiling are spaced");
    } else {
        assert!(b_claims.iter().any(|x| x.id == c.id), "one process owns a single-node store");
        assert_eq!(s.reserve_slot("t1", "ch", 1_000, 100).await.unwrap(), None);
    }
}

async fn committed_writes_survive_reopening(b: Backend) {
    let Some(url) = b.reopen.clone() else { return };
    let c = campaign("t1", 1);
    b.store.insert_campaign(c.clone(), numbers(3).iter().map(|n| recipient(n, "p")).collect()).await.unwrap();
    b.store.mark_sending(c.id, &[0], 5).await.unwrap();
    b.store
        .write_contexts("t1", vec![ContextWrite { identity: "i".into(), variables: vec![("v".into(), json!(1))] }])
        .await
        .unwrap();
    let again = SqlStore::connect(&url, b.dialect.unwrap()).await.unwrap();
    assert_eq!(again.campaign("t1", c.id).await.unwrap().unwrap(), c);
    assert_eq!(again.counts("t1", c.id).await.unwrap().total, 3);
    assert_eq!(again.sending(c.id).await.unwrap().len(), 1, "SENDING survives for reconciliation");
    assert_eq!(again.context_value("t1", "i", "v").await.unwrap(), Some(json!(1)));
}

fn outbound(key: &str, seq: i64) -> OutboundMessage {
    OutboundMessage {
        key: key.into(),
        tenant: "t1".into(),
        seq,
        lime_id: Some(format!("lime-{key}")),
        bot: "mybot@msging.net/default".into(),
        to: "5531998761234@wa.gw.msging.net".into(),
        phone: 5531998761234,
        channel: "wa".into(),
        content: Content::Text { text: format!("text of {key}") },
        status: OutboundStatus::Accepted,
        reason: 0,
        description: None,
        provider_id: None,
        created: 1_000,
    }
}

fn change(key: &str, status: OutboundStatus, provider_id: Option<&str>) -> OutboundChange {
    OutboundChange { key: key.into(), status, reason: 0, description: None, provider_id: provider_id.map(Into::into) }
}

async fn outbound_messages_move_forward_and_receipts_find_them_by_provider_id(b: Backend) {
    let s = &b.store;
    s.insert_outbound(&[outbound("ob.b", 20)]).await.unwrap();
    s.insert_outbound(&[outbound("ob.a", 10), outbound("ob.c", 30)]).await.unwrap();
    assert!(s.insert_outbound(&[outbound("ob.a", 11)]).await.is_err(), "a key is stored once");
    assert!(
        s.insert_outbound(&[outbound("ob.d", 40), outbound("ob.b", 41)]).await.is_err(),
        "a batch with a repeated key is refused"
    );
    let accepted = s.outbound_in(OutboundStatus::Accepted, i64::MIN, 10).await.unwrap();
    let keys: Vec<&str> = accepted.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["ob.a", "ob.b", "ob.c"], "acceptance order");
    assert_eq!(accepted[0], outbound("ob.a", 10), "stored whole");
    assert_eq!(s.outbound_in(OutboundStatus::Accepted, 10, 1).await.unwrap()[0].key, "ob.b");
    assert_eq!(s.count_outbound(OutboundStatus::Accepted).await.unwrap(), 3);

    // SENDING with the provider id known ahead (RBM); a second claim moves nothing.
    let moved = s.move_outbound(&[change("ob.a", OutboundStatus::Sending, Some("uuid-a"))]).await.unwrap();
    assert_eq!((moved.len(), moved[0].from), (1, OutboundStatus::Accepted));
    assert!(s.move_outbound(&[change("ob.a", OutboundStatus::Sending, None)]).await.unwrap().is_empty());
    // A receipt faster than the send's outcome: by provider id, and by key (the simulator).
    let receipt = |id: &str, status| Receipt { message_id: id.into(), status, at: 5, reason: 0 };
    let moved = s.outbound_receipts(&[receipt("uuid-a", RecipientStatus::Received)]).await.unwrap();
    assert_eq!((moved[0].from, moved[0].message.status), (OutboundStatus::Sending, OutboundStatus::Received));
    // The outcome arrives later: backward, ignored, but the provider id is kept.
    assert!(s.move_outbound(&[change("ob.a", OutboundStatus::Dispatched, Some("uuid-a"))]).await.unwrap().is_empty());
    s.move_outbound(&[change("ob.b", OutboundStatus::Sending, None)]).await.unwrap();
    let failed = OutboundChange {
        key: "ob.b".into(),
        status: OutboundStatus::Failed,
        reason: 131047,
        description: Some("outside the window".into()),
        provider_id: None,
    };
    let moved = s.move_outbound(&[failed]).await.unwrap();
    assert_eq!(
        (moved[0].message.reason, moved[0].message.description.as_deref()),
        (131047, Some("outside the window"))
    );
    let moved = s
        .outbound_receipts(&[
            receipt("ob.c", RecipientStatus::Read),
            receipt("ob.b", RecipientStatus::Read),
            receipt("wamid.unknown", RecipientStatus::Read),
            receipt("uuid-a", RecipientStatus::Read),
        ])
        .await
        .unwrap();
    let moves: Vec<(&str, OutboundStatus)> = moved.iter().map(|m| (m.message.key.as_str(), m.message.status)).collect();
    assert_eq!(moves, [("ob.c", OutboundStatus::Consumed), ("ob.a", OutboundStatus::Consumed)], "FAILED stays FAILED");
    assert_eq!(s.count_outbound(OutboundStatus::Accepted).await.unwrap(), 0);
    assert!(s.outbound_in(OutboundStatus::Sending, i64::MIN, 10).await.unwrap().is_empty());
}

fn entry(id: &str, person: &str, at: i64) -> InboxEntry {
    InboxEntry {
        id: format!("g-{id}"),
        provider_id: id.into(),
        person: person.into(),
        received_at: at,
        envelope: format!("{{\"id\":\"g-{id}\"}}"),
    }
}

async fn inbox_deduplicates_by_provider_id_keeps_order_and_is_bounded(b: Backend) {
    let s = &b.store;
    for (id, at) in [("w1", 10), ("w2", 20), ("w3", 30)] {
        assert!(s.inbox_insert("t1", entry(id, "p1", at), 10).await.unwrap().new);
    }
    assert!(!s.inbox_insert("t1", entry("w1", "p1", 11), 10).await.unwrap().new, "a repeat is one message");
    assert!(s.inbox_insert("t2", entry("w1", "p1", 11), 10).await.unwrap().new, "per tenant");
    let ids = |w: Vec<InboxEntry>| w.into_iter().map(|e| e.provider_id).collect::<Vec<_>>();
    assert_eq!(ids(s.inbox_waiting("t1", 10).await.unwrap()), ["w1", "w2", "w3"]);
    assert_eq!(ids(s.inbox_waiting("t1", 2).await.unwrap()), ["w1", "w2"]);
    assert!(s.inbox_remove("t1", "g-w2").await.unwrap());
    assert!(!s.inbox_remove("t1", "g-w2").await.unwrap(), "already off");
    assert!(!s.inbox_insert("t1", entry("w2", "p1", 21), 10).await.unwrap().new, "an acknowledged id is still known");
    let added = s.inbox_insert("t1", entry("w4", "p2", 40), 2).await.unwrap();
    assert_eq!((added.new, added.dropped), (true, 1), "over the bound the oldest waiting goes");
    assert_eq!(ids(s.inbox_waiting("t1", 10).await.unwrap()), ["w3", "w4"]);
    assert_eq!(s.inbox_expire("t1", 35).await.unwrap(), 1, "w3 expired");
    assert_eq!(ids(s.inbox_waiting("t1", 10).await.unwrap()), ["w4"]);
    assert!(s.inbox_insert("t1", entry("w1", "p1", 50), 10).await.unwrap().new, "an expired id is forgotten");
    assert_eq!(ids(s.inbox_waiting("t2", 10).await.unwrap()), ["w1"], "the other tenant untouched");
}

async fn suppressions_and_replies_are_per_tenant_and_counted_once(b: Backend) {
    let s = &b.store;
    let entry = |phone, at, reason: &str| Suppression { phone, at, reason: Some(reason.into()), channel: None };
    assert!(s.suppress("t1", entry(5531000000001, 10, "SAIR")).await.unwrap());
    assert!(s.suppress("t1", entry(5531000000002, 20, "STOP")).await.unwrap());
    assert!(!s.suppress("t1", entry(5531000000001, 30, "PARAR")).await.unwrap(), "replaced, not new");
    let (total, list) = s.suppressions("t1", None, ALL).await.unwrap();
    let listed: Vec<(u64, Option<String>)> = list.into_iter().map(|e| (e.phone, e.reason)).collect();
    assert_eq!(total, 2);
    assert_eq!(listed, [(5531000000001, Some("PARAR".into())), (5531000000002, Some("STOP".into()))], "newest first");
    assert_eq!(s.suppressions("t1", Some(5531000000002), ALL).await.unwrap().0, 1);
    assert_eq!(s.suppressed_among("t1", &[5531000000001, 5531000000003]).await.unwrap(), [5531000000001]);
    assert!(s.suppressed_among("t2", &[5531000000001]).await.unwrap().is_empty(), "per tenant");
    assert!(s.unsuppress("t1", 5531000000001).await.unwrap());
    assert!(!s.unsuppress("t1", 5531000000001).await.unwrap());
    // Replies: the last send to a person within the window, counted once.
    let c = campaign("t1", 1);
    let list = numbers(2);
    s.insert_campaign(c.clone(), list.iter().map(|n| recipient(n, "p")).collect()).await.unwrap();
    s.mark_sending(c.id, &[0, 1], 10).await.unwrap();
    let done = |seq| Outcome { seq, status: RecipientStatus::Processed, at: 20, reason: 0 };
    s.record_outcomes(c.id, &[done(0), done(1)]).await.unwrap();
    let phone: u64 = list[0].trim_start_matches('+').parse().unwrap();
    assert_eq!(s.last_sent_to("t1", phone, 0).await.unwrap(), Some((c.id, 0)));
    assert_eq!(s.last_sent_to("t1", phone, 21).await.unwrap(), None, "outside the window");
    assert_eq!(s.last_sent_to("t2", phone, 0).await.unwrap(), None, "another tenant's campaign");
    assert!(s.mark_replied(c.id, 0, 30).await.unwrap());
    assert!(!s.mark_replied(c.id, 0, 40).await.unwrap(), "once per recipient");
    assert_eq!(s.counts("t1", c.id).await.unwrap().replied, 1);
}

async fn a_batch_of_inbound_writes_is_recorded_in_order_with_repeats_not_new(b: Backend) {
    let s = &b.store;
    let c = campaign("t1", 1);
    let list = numbers(1);
    s.insert_campaign(c.clone(), list.iter().map(|n| recipient(n, "p")).collect()).await.unwrap();
    s.mark_sending(c.id, &[0], 10).await.unwrap();
    s.record_outcomes(c.id, &[Outcome { seq: 0, status: RecipientStatus::Processed, at: 20, reason: 0 }])
        .await
        .unwrap();
    let phone: u64 = list[0].trim_start_matches('+').parse().unwrap();
    let person = format!("{phone}@wa.gw.msging.net");
    let write = |tenant: &str, id: &str, at, replied, suppression| InboundWrite {
        tenant: tenant.into(),
        contact: ContactPatch {
            identity: Some(person.clone()),
            phone: Some(phone),
            name: Some(format!("n-{id}")),
            last_interaction_at: Some(at),
            ..ContactPatch::default()
        },
        replied,
        suppression,
        entry: entry(id, &person, at),
    };
    s.inbox_insert("t1", entry("w0", "other", 5), 10).await.unwrap();
    let stop = Suppression { phone, at: 31, reason: Some("STOP".into()), channel: Some("wa".into()) };
    let batch = [
        write("t1", "w1", 30, Some((c.id, 0, 30)), None),
        write("t1", "w2", 31, Some((c.id, 0, 31)), Some(SuppressionChange::Suppress(stop))),
        write("t1", "w1", 32, None, None),
        write("t2", "w1", 33, None, None),
        write("t1", "w3", 34, None, Some(SuppressionChange::Unsuppress(phone))),
    ];
    let added = s.record_inbound(&batch, 3).await.unwrap();
    let news: Vec<bool> = added.iter().map(|a| a.new).collect();
    assert_eq!(news, [true, true, false, true, true], "a repeat within the batch is not new; per tenant");
    let dropped: u64 = added.iter().map(|a| a.dropped).sum();
    assert_eq!(dropped, 1, "one over the bound of 3 in t1: the oldest waiting went");
    let ids = |w: Vec<InboxEntry>| w.into_iter().map(|e| e.provider_id).collect::<Vec<_>>();
    assert_eq!(ids(s.inbox_waiting("t1", 10).await.unwrap()), ["w1", "w2", "w3"], "arrival order");
    assert_eq!(ids(s.inbox_waiting("t2", 10).await.unwrap()), ["w1"]);
    assert_eq!(s.counts("t1", c.id).await.unwrap().replied, 1, "the reply counted once");
    assert!(!s.is_suppressed("t1", phone).await.unwrap(), "the opt-in after the opt-out wins");
    let contact = s.contact("t1", &ContactKey::Phone(phone)).await.unwrap().expect("the contact");
    assert_eq!(contact.name.as_deref(), Some("n-w3"), "the batch's patches apply in order");
    assert_eq!(s.contacts("t1", ALL).await.unwrap().0, 1, "one contact for the person");
    // Alone, an opt-out stays.
    let stop = Suppression { phone, at: 40, reason: Some("SAIR".into()), channel: None };
    let added = s.record_inbound(&[write("t1", "w4", 40, None, Some(SuppressionChange::Suppress(stop)))], 10).await;
    assert!(added.unwrap()[0].new);
    assert!(s.is_suppressed("t1", phone).await.unwrap());
    assert!(s.record_inbound(&[], 10).await.unwrap().is_empty());
}

async fn status_changes_fill_the_outbox_of_the_tenants_webhooks_in_order(b: Backend) {
    use irisgate::callbacks::outbox::{DeliveryState, EventKind, Webhook};
    let s = &b.store;
    let hook = |tenant: &str, events| Webhook {
        id: Uuid::now_v7(),
        tenant: tenant.into(),
        url: "https://203.0.113.9/h".into(),
        events,
        secret: irisgate::secret::Secret::new("k"),
        created: 1,
    };
    let both = hook("t1", vec![EventKind::RecipientStatus, EventKind::CampaignStatus]);
    let campaigns_only = hook("t1", vec![EventKind::CampaignStatus]);
    let other = hook("t2", vec![EventKind::RecipientStatus, EventKind::CampaignStatus]);
    for h in [&both, &campaigns_only, &other] {
        s.put_webhook(h.clone()).await.unwrap();
    }
    assert_eq!(s.webhooks(Some("t1")).await.unwrap().len(), 2);
    assert_eq!(s.webhooks(None).await.unwrap().len(), 3);
    let c = campaign("t1", 1);
    s.insert_campaign(c.clone(), numbers(2).iter().map(|n| recipient(n, "p")).collect()).await.unwrap();
    s.update_campaign("t1", c.id, &mut |c| {
        c.status = CampaignStatus::Running;
        Ok(())
    })
    .await
    .unwrap();
    s.mark_sending(c.id, &[0, 1], 10).await.unwrap();
    let done = |seq| Outcome { seq, status: RecipientStatus::Processed, at: 20, reason: 0 };
    s.record_outcomes(c.id, &[done(0), done(1)]).await.unwrap();
    let read = Receipt { message_id: message_id(c.id, 0), status: RecipientStatus::Read, at: 30, reason: 0 };
    s.apply_receipts(&[read.clone(), read]).await.unwrap();
    assert!(s.mark_replied(c.id, 0, 40).await.unwrap());
    let told = |d: &irisgate::callbacks::outbox::Delivery| (d.event.recipient, d.event.status.clone());
    let pending = s.pending_deliveries(both.id, 100).await.unwrap();
    let got: Vec<_> = pending.iter().map(told).collect();
    let r = |seq, st: &str| (Some(seq), st.to_owned());
    assert_eq!(
        got,
        [(None, "RUNNING".to_owned()), r(0, "PROCESSED"), r(1, "PROCESSED"), r(0, "READ"), r(0, "REPLIED")],
        "in order, a repeated receipt told once"
    );
    assert_eq!(pending[1].event.phone, numbers(1)[0].trim_start_matches('+').parse::<u64>().unwrap());
    let only: Vec<_> = s.pending_deliveries(campaigns_only.id, 100).await.unwrap().iter().map(told).collect();
    assert_eq!(only, [(None, "RUNNING".to_owned())]);
    assert!(s.pending_deliveries(other.id, 100).await.unwrap().is_empty(), "another tenant's webhook");
    // Progress, the log, replays, the bound.
    let mut first = pending[0].clone();
    first.state = DeliveryState::Delivered;
    first.attempts = 2;
    first.last_code = Some(200);
    s.update_deliveries(&[first.clone()]).await.unwrap();
    assert_eq!(s.pending_deliveries(both.id, 100).await.unwrap().len(), 4);
    let (total, log) = s.deliveries(both.id, Some(DeliveryState::Delivered), ALL).await.unwrap();
    assert_eq!((total, log[0].attempts, log[0].last_code), (1, 2, Some(200)));
    assert_eq!(s.deliveries(both.id, None, Page { skip: 0, take: 2 }).await.unwrap().0, 5);
    assert_eq!(s.deliveries(both.id, None, ALL).await.unwrap().1[0].event.status, "REPLIED", "newest first");
    assert!(s.replay_delivery(both.id, first.event.id).await.unwrap());
    assert!(!s.replay_delivery(both.id, Uuid::nil()).await.unwrap());
    assert_eq!(s.pending_deliveries(both.id, 100).await.unwrap()[0].event.id, first.event.id);
    assert_eq!(s.trim_deliveries(both.id, 2).await.unwrap(), 3);
    let kept: Vec<_> = s.pending_deliveries(both.id, 100).await.unwrap().iter().map(told).collect();
    assert_eq!(kept, [r(0, "READ"), r(0, "REPLIED")], "the oldest pending dropped");
    assert!(s.delete_webhook("t1", both.id).await.unwrap());
    assert!(!s.delete_webhook("t2", campaigns_only.id).await.unwrap(), "another tenant's");
    assert!(s.pending_deliveries(both.id, 100).await.unwrap().is_empty());
}

async fn a_retry_moves_matching_failures_back_once_and_a_refusal_writes_nothing(b: Backend) {
    let s = &b.store;
    let c = Campaign { status: CampaignStatus::Completed, ..campaign("t1", 1) };
    let list = numbers(5);
    s.insert_campaign(c.clone(), list.iter().map(|n| recipient(n, "p")).collect()).await.unwrap();
    s.mark_sending(c.id, &[0, 1, 2, 3, 4], 10).await.unwrap();
    let fail = |seq, reason| Outcome { seq, status: RecipientStatus::Failed, at: 20, reason };
    let sent = Outcome { seq: 4, status: RecipientStatus::Processed, at: 20, reason: 0 };
    s.record_outcomes(c.id, &[fail(0, 131026), fail(1, 1002), fail(2, 1008), fail(3, 131026), sent]).await.unwrap();
    let refuse = s
        .retry_failed("t1", c.id, &RetryReasons::Only(vec![131026]), &mut |_, _| Err(Error::NotAllowed("no".into())))
        .await;
    assert!(matches!(refuse, Err(Error::NotAllowed(_))));
    assert_eq!(s.counts("t1", c.id).await.unwrap().failed, 4, "a refused retry writes nothing");
    let other = s.retry_failed("t2", c.id, &RetryReasons::AllBut(vec![]), &mut |_, _| Ok(())).await;
    assert!(matches!(other, Err(Error::NotFound(_))), "another tenant's campaign");
    assert_eq!(s.counts("t1", c.id).await.unwrap().failed, 4);
    let mut seen = None;
    let (changed, moved) = s
        .retry_failed("t1", c.id, &RetryReasons::Only(vec![131026]), &mut |c, n| {
            seen = Some(n);
            c.status = CampaignStatus::Running;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!((moved, seen, changed.status), (2, Some(2), CampaignStatus::Running));
    assert_eq!(s.campaign("t1", c.id).await.unwrap().unwrap().status, CampaignStatus::Running);
    let counts = s.counts("t1", c.id).await.unwrap();
    assert_eq!((counts.total, counts.pending, counts.failed, counts.processed), (5, 2, 2, 1), "counted once");
    let pending = s.pending(c.id, 0, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|r| (r.seq, r.retries, r.first_reason, r.reason)).collect::<Vec<_>>(),
        vec![(0, 1, 131026, 0), (3, 1, 131026, 0)]
    );
    assert_eq!(pending[0].message_id(c.id), format!("{}#2", message_id(c.id, 0)));
    // The second failure is not the first: it stays 131026 after a 1002 and another retry.
    s.mark_sending(c.id, &[0], 30).await.unwrap();
    s.record_outcomes(c.id, &[fail(0, 1002)]).await.unwrap();
    let (_, moved) = s.retry_failed("t1", c.id, &RetryReasons::AllBut(vec![1008]), &mut |_, _| Ok(())).await.unwrap();
    assert_eq!(moved, 2, "seq 0 (again) and seq 1; not the opted-out one");
    let (_, all) = s.recipients("t1", c.id, None, ALL).await.unwrap();
    assert_eq!((all[0].retries, all[0].first_reason, all[0].attempts()), (2, 131026, 3));
    assert_eq!((all[1].retries, all[1].first_reason), (1, 1002));
    assert_eq!((all[2].status, all[2].retries), (RecipientStatus::Failed, 0));
    // A receipt of the new attempt's id finds the recipient.
    s.mark_sending(c.id, &[0], 40).await.unwrap();
    s.record_outcomes(c.id, &[Outcome { seq: 0, status: RecipientStatus::Processed, at: 41, reason: 0 }])
        .await
        .unwrap();
    let receipt = Receipt { message_id: all[0].message_id(c.id), status: RecipientStatus::Read, at: 50, reason: 0 };
    assert_eq!(s.apply_receipts(&[receipt]).await.unwrap(), 1);
}

async fn idempotency_keys_replay_refuse_other_bodies_expire_and_are_bounded(b: Backend) {
    let s = &b.store;
    let window = IdempotencyWindow { ttl_ms: 1_000, in_flight_ms: 100, max_keys: 2 };
    let begin = |tenant: &'static str, key: &'static str, hash: &'static str, now: i64| {
        let s = s.clone();
        async move { s.idempotency_begin(tenant, key, hash, now, window).await.unwrap() }
    };
    assert_eq!(begin("t1", "k1", "h1", 0).await, IdempotencyBegin::Claimed);
    assert_eq!(begin("t1", "k1", "h1", 10).await, IdempotencyBegin::InFlight);
    assert_eq!(begin("t1", "k1", "h2", 10).await, IdempotencyBegin::Mismatch);
    assert_eq!(begin("t2", "k1", "h2", 10).await, IdempotencyBegin::Claimed, "keys are per tenant");
    let response =
        StoredResponse { status: 201, content_type: "application/json".into(), body: b"{\"id\":1}".to_vec() };
    s.idempotency_finish("t1", "k1", Some(response.clone())).await.unwrap();
    assert_eq!(begin("t1", "k1", "h1", 20).await, IdempotencyBegin::Replay(response.clone()));
    assert_eq!(begin("t1", "k1", "h2", 20).await, IdempotencyBegin::Mismatch);
    // A released key runs again; an abandoned one is taken over after `in_flight_ms`.
    assert_eq!(begin("t1", "k2", "h1", 30).await, IdempotencyBegin::Claimed);
    s.idempotency_finish("t1", "k2", None).await.unwrap();
    assert_eq!(begin("t1", "k2", "h1", 40).await, IdempotencyBegin::Claimed);
    assert_eq!(begin("t1", "k2", "h1", 200).await, IdempotencyBegin::Claimed, "abandoned in flight");
    let full = s.idempotency_begin("t1", "k3", "h1", 300, window).await;
    assert!(matches!(full, Err(Error::LimitReached(_))), "max_keys: {full:?}");
    // After the ttl the key is forgotten (and its room freed).
    assert_eq!(begin("t1", "k1", "h2", 1_100).await, IdempotencyBegin::Claimed);
    assert_eq!(begin("t1", "k3", "h1", 1_250).await, IdempotencyBegin::Claimed, "k2 forgotten too");
}

fn segment(tenant: &str, name: &str, at: i64) -> Segment {
    let filters = irisgate::filter::Filters { tag_ids: Some(vec![name.to_lowercase()]), ..Default::default() };
    Segment { id: Uuid::new_v4(), tenant: tenant.into(), name: name.into(), filters, created: at, updated: at }
}

async fn segments_are_per_tenant_uniquely_named_bounded_and_kept_while_a_draft_uses_them(b: Backend) {
    let s = &b.store;
    let vip = segment("t1", "VIP", 1);
    s.insert_segment(vip.clone(), 3).await.unwrap();
    let same = s.insert_segment(segment("t1", " vip", 2), 3).await;
    assert!(matches!(same, Err(Error::NotAllowed(_))), "names are unique per workspace, any case: {same:?}");
    s.insert_segment(segment("t2", "VIP", 2), 3).await.expect("another workspace may use the name");
    s.insert_segment(segment("t1", "Novos", 3), 3).await.unwrap();
    s.insert_segment(segment("t1", "Antigos", 4), 3).await.unwrap();
    let over = s.insert_segment(segment("t1", "Mais um", 5), 3).await;
    assert!(matches!(over, Err(Error::NotAllowed(_))), "at most 3: {over:?}");
    assert_eq!(s.segment("t1", vip.id).await.unwrap(), Some(vip.clone()), "read back as written");
    assert_eq!(s.segment("t2", vip.id).await.unwrap(), None, "another workspace's id is not found");
    let (total, page) = s.segments("t1", Page { skip: 1, take: 1 }).await.unwrap();
    assert_eq!((total, page.iter().map(|g| g.name.as_str()).collect::<Vec<_>>()), (3, vec!["Novos"]), "creation order");

    let renamed = Segment { name: "novos".into(), ..vip.clone() };
    assert!(matches!(s.replace_segment(renamed).await, Err(Error::NotAllowed(_))), "a taken name is refused");
    let edited = Segment { name: "VIP ouro".into(), updated: 9, ..vip.clone() };
    s.replace_segment(edited.clone()).await.unwrap();
    assert_eq!(s.segment("t1", vip.id).await.unwrap(), Some(edited));
    let ghost = Segment { id: Uuid::new_v4(), ..vip.clone() };
    assert!(matches!(s.replace_segment(ghost).await, Err(Error::NotFound(_))));

    let mut draft = campaign("t1", 10);
    draft.rest = Some(json!({"segment_id": vip.id}));
    s.insert_campaign(draft.clone(), vec![]).await.unwrap();
    let blocking = irisgate::segment::RESOLVING;
    assert_eq!(
        s.delete_segment("t1", vip.id, blocking).await.unwrap(),
        SegmentDeleted::InUse(vec![(draft.id, draft.name.clone())]),
        "a DRAFT resolves it at start"
    );
    assert_eq!(s.delete_segment("t2", vip.id, blocking).await.unwrap(), SegmentDeleted::NotFound, "per workspace");
    s.delete_campaign("t1", draft.id, &[CampaignStatus::Draft]).await.unwrap();
    assert_eq!(s.delete_segment("t1", vip.id, blocking).await.unwrap(), SegmentDeleted::Deleted);
    assert_eq!(s.segment("t1", vip.id).await.unwrap(), None);
    assert_eq!(s.delete_segment("t1", vip.id, blocking).await.unwrap(), SegmentDeleted::NotFound);
}

macro_rules! contract {
    ($backend:ident: $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(b) = super::$backend().await {
                        super::$test(b).await;
                    }
                }
            )*
        }
    };
}

macro_rules! every_backend {
    ($($test:ident),* $(,)?) => {
        contract!(memory: $($test),*);
        contract!(sqlite: $($test),*);
        contract!(postgres: $($test),*);
    };
}

every_backend!(
    campaigns_are_per_tenant_and_listed_newest_first,
    updates_are_atomic_and_a_refused_change_writes_nothing,
    audiences_deduplicate_by_phone_and_respect_the_limit,
    a_phone_twice_in_one_batch_keeps_its_first_place_and_the_later_data,
    a_start_adds_the_audience_and_the_status_together_or_nothing,
    recipients_move_only_forward_and_counts_follow,
    keyset_pages_walk_the_audience_in_order_by_status_and_per_tenant,
    contacts_and_contexts_merge_and_are_found_every_way,
    catalog_entries_are_replaced_by_id_in_order,
    running_campaigns_are_leased_to_one_node_at_a_time,
    committed_writes_survive_reopening,
    outbound_messages_move_forward_and_receipts_find_them_by_provider_id,
    inbox_deduplicates_by_provider_id_keeps_order_and_is_bounded,
    suppressions_and_replies_are_per_tenant_and_counted_once,
    a_batch_of_inbound_writes_is_recorded_in_order_with_repeats_not_new,
    status_changes_fill_the_outbox_of_the_tenants_webhooks_in_order,
    a_retry_moves_matching_failures_back_once_and_a_refusal_writes_nothing,
    idempotency_keys_replay_refuse_other_bodies_expire_and_are_bounded,
    segments_are_per_tenant_uniquely_named_bounded_and_kept_while_a_draft_uses_them,
);
