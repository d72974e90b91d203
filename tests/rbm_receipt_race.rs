//! A receipt faster than the send's answer: Google may post DELIVERED for a message before the
//! gateway has recorded that its send was accepted (the answer is slow, or recorded one batch
//! later). The event must still reach its recipient, not be dropped as an unknown id.

mod support;

use serde_json::json;
use support::client::{entry, id_of, Client, Transport};
use support::fake_rbm::{self, FakeRbm, CLIENT_TOKEN};
use support::{poll, Gateway, WAIT};

#[tokio::test]
async fn a_delivered_event_that_beats_the_sends_answer_is_applied() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    // Every answer is held: the message is at Google, the gateway does not know it yet.
    fake.hold_after(0);
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let phone = "+5531998760077";
    let r = c
        .full(json!({
            "campaign": {"name": "race", "campaignType": "Batch", "channelType": "GoogleRcs"},
            "audiences": [{"recipient": phone}],
            "message": {"messageContent": "Olá!", "channelType": "GoogleRcs"}
        }))
        .await;
    let campaign = id_of(&r);
    let sent = poll(WAIT, || async { fake.accepted() }, |a| !a.is_empty()).await.expect("the fake took the send");
    let reply = fake.post_event(gw.addr, "DELIVERED", &sent[0].message_id, phone).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    fake.release();
    let report =
        c.wait_report(&campaign, "the early DELIVERED applied", |r| r["audienceCounts"]["received"] == 1).await;
    let who = entry(&report, "5531998760077@googlercs.gw.msging.net");
    assert_eq!(who["status"], "RECEIVED", "{report}");
}
