//! The inbox's timers on tokio's paused clock (the engine's Clock follows it), on the memory
//! store: an unacknowledged message comes again after the default `redeliver_ms` (30 s) and
//! not before, an acknowledged one never; a message waiting past `inbox_ttl_ms` is dropped;
//! past `inbox_max` the oldest waiting message goes first.

use std::time::Duration;

use irisgate::campaign::ChannelType;
use irisgate::conversation::envelope::Content;
use irisgate::conversation::inbound::Inbound;
use irisgate::engine::Engine;
use serde_json::Value;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

async fn engine(config: irisgate::Config) -> (Engine, tokio_util::sync::CancellationToken) {
    let storage = irisgate::config::StorageConfig { kind: irisgate::config::StorageKind::Memory, ..Default::default() };
    let store = irisgate::store::open(&storage).await.unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let clock = irisgate::clock::Clock::new();
    (Engine::start(&config, store, clock, shutdown.clone()).await.unwrap(), shutdown)
}

async fn receive(engine: &Engine, provider_id: &str, text: &str) -> String {
    let m = Inbound {
        tenant: "mybot".into(),
        channel: "channel_123".into(),
        channel_type: ChannelType::WhatsApp,
        phone: 5531998769000 + provider_id.len() as u64,
        provider_id: provider_id.into(),
        received_at: engine.clock.now(),
        content: Content::Text(text.into()),
        name: None,
    };
    engine.conversations.receive(m).await.unwrap().id
}

async fn next(rx: &mut Receiver<String>, within: Duration) -> Option<Value> {
    timeout(within, rx.recv()).await.ok().flatten().map(|t| serde_json::from_str(&t).unwrap())
}

#[tokio::test(start_paused = true)]
async fn an_unacknowledged_message_comes_again_after_30_seconds_and_an_acknowledged_one_never() {
    let (engine, _shutdown) = engine(irisgate::Config::development()).await;
    let (_session, mut rx) = engine.conversations.sessions.register("mybot");
    let id = receive(&engine, "p1", "oi").await;
    assert_eq!(next(&mut rx, Duration::from_secs(1)).await.unwrap()["id"], id.as_str());
    assert_eq!(next(&mut rx, Duration::from_secs(29)).await, None, "not before redeliver_ms");
    assert_eq!(next(&mut rx, Duration::from_secs(2)).await.unwrap()["id"], id.as_str(), "redelivered");
    assert!(engine.conversations.acknowledge("mybot", &id).await.unwrap());
    assert_eq!(next(&mut rx, Duration::from_secs(120)).await, None, "acknowledged: never again");
}

#[tokio::test(start_paused = true)]
async fn a_message_waiting_past_inbox_ttl_ms_is_dropped() {
    let mut config = irisgate::Config::development();
    config.conversations.inbox_ttl_ms = 3_600_000;
    let (engine, _shutdown) = engine(config).await;
    receive(&engine, "p2", "alguém?").await;
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    assert_eq!(engine.conversations.dropped(), 1);
    let (_session, mut rx) = engine.conversations.sessions.register("mybot");
    assert_eq!(next(&mut rx, Duration::from_secs(5)).await, None, "expired");
}

#[tokio::test(start_paused = true)]
async fn past_inbox_max_the_oldest_waiting_message_is_dropped_first() {
    let mut config = irisgate::Config::development();
    config.conversations.inbox_max = 2;
    let (engine, _shutdown) = engine(config).await;
    // Three people (so that per-person order does not hold the later ones back).
    receive(&engine, "a", "primeira").await;
    let second = receive(&engine, "bb", "segunda").await;
    let third = receive(&engine, "ccc", "terceira").await;
    assert_eq!(engine.conversations.dropped(), 1);
    let (_session, mut rx) = engine.conversations.sessions.register("mybot");
    let mut got = vec![
        next(&mut rx, Duration::from_secs(1)).await.unwrap()["id"].as_str().unwrap().to_owned(),
        next(&mut rx, Duration::from_secs(1)).await.unwrap()["id"].as_str().unwrap().to_owned(),
    ];
    got.sort();
    let mut want = vec![second, third];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(next(&mut rx, Duration::from_secs(1)).await, None);
}
