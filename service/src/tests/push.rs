//! Web Push to staff's phones: who is told of which chat, once, with no
//! patient's word; an auditor is never; a subscription the push service
//! says is gone is dropped. The sender is the port's test double (it
//! records what it is asked to send); the real one, sealing and signing,
//! is driven end to end in `tests/tests/e2e/push.rs`.

use std::sync::Mutex;

use store::PushSubscriptions;
use tokio::sync::mpsc;

use super::*;
use crate::ServiceError;
use crate::push::{Delivery, Pusher, SubscriptionInput, SubscriptionKeys};

/// Records each push as (endpoint, payload, urgent); endpoints under
/// `/gone/` are answered as gone.
struct Recorder {
    tx: Mutex<mpsc::UnboundedSender<(String, serde_json::Value, bool)>>,
}

#[async_trait]
impl Pusher for Recorder {
    fn public_key(&self) -> String {
        "BKEY".into()
    }

    fn check(&self, endpoint: &str, _p256dh: &str, _auth: &str) -> Result<(), String> {
        if endpoint.starts_with("https://") {
            Ok(())
        } else {
            Err("the endpoint must be an https address".into())
        }
    }

    async fn push(
        &self,
        s: &store::PushSubscription,
        payload: &[u8],
        urgent: bool,
    ) -> Result<Delivery, String> {
        let payload = serde_json::from_slice(payload).unwrap();
        let _ = self
            .tx
            .lock()
            .unwrap()
            .send((s.endpoint.clone(), payload, urgent));
        Ok(if s.endpoint.contains("/gone/") {
            Delivery::Gone
        } else {
            Delivery::Sent
        })
    }
}

fn subscription(endpoint: &str) -> SubscriptionInput {
    SubscriptionInput {
        endpoint: endpoint.into(),
        keys: SubscriptionKeys {
            p256dh: "BCVx".into(),
            auth: "BTBZ".into(),
        },
    }
}

/// The pushes sent off so far (they go on spawned tasks).
async fn pushed(
    rx: &mut mpsc::UnboundedReceiver<(String, serde_json::Value, bool)>,
    expected: usize,
) -> Vec<(String, serde_json::Value, bool)> {
    let mut out = Vec::new();
    while out.len() < expected {
        let next = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a push within 10 s")
            .unwrap();
        out.push(next);
    }
    // And nothing more queued behind them.
    tokio::task::yield_now().await;
    assert!(rx.try_recv().is_err(), "more pushes than expected");
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn a_waiting_chat_is_pushed_once_to_who_could_take_it_and_an_urgent_one_to_all() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let clinic = Clinic::with(|s| s.with_pusher(Arc::new(Recorder { tx: Mutex::new(tx) }))).await;
    let bella = clinic.user("Bella", &["nursing"], &["en"]).await;
    let nate = clinic.user("Nate", &["billing"], &["en"]).await;
    let otto = clinic.account("Otto", Role::Auditor, &[], &["en"]).await;
    assert_eq!(clinic.service.push_key().as_deref(), Some("BKEY"));

    let s = &clinic.service;
    s.subscribe_push(&bella, subscription("https://push.example/bella"))
        .await
        .unwrap();
    s.subscribe_push(&nate, subscription("https://push.example/nate"))
        .await
        .unwrap();
    let refused = s
        .subscribe_push(&otto, subscription("https://push.example/otto"))
        .await;
    assert!(
        matches!(refused, Err(ServiceError::Forbidden(_))),
        "{refused:?}"
    );
    let plain = s
        .subscribe_push(&bella, subscription("http://10.0.0.9/x"))
        .await;
    assert!(
        matches!(plain, Err(ServiceError::BadRequest(_))),
        "{plain:?}"
    );

    // A nursing chat: Bella could take it, Nate could not.
    let p = clinic.patient("en").await;
    p.say("I need a nurse about Maria's rash").await;
    let got = pushed(&mut rx, 1).await;
    assert_eq!(got[0].0, "https://push.example/bella");
    assert!(!got[0].2);
    assert_eq!(got[0].1["title"], "Chat waiting");
    assert!(!got[0].1.to_string().contains("rash"), "{}", got[0].1);
    assert!(!got[0].1.to_string().contains(p.id().as_str()));

    // The queue changing again tells nobody of the same chat twice.
    s.broadcast_queue().await;
    assert!(pushed(&mut rx, 0).await.is_empty());

    // An urgent chat goes to everyone who could take it (anyone), even
    // with a console open.
    let _console = clinic.online(&nate).await;
    s.set_presence(&nate, router::Presence::Away).await.unwrap();
    let urgent = clinic.patient("en").await;
    urgent.say("I have chest pain").await;
    let got = pushed(&mut rx, 2).await;
    assert_eq!(
        got.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(),
        ["https://push.example/bella", "https://push.example/nate"]
    );
    assert!(
        got.iter()
            .all(|g| g.2 && g.1["title"] == "Urgent chat waiting")
    );

    // A subscription the push service no longer knows is dropped.
    s.subscribe_push(&bella, subscription("https://push.example/gone/old"))
        .await
        .unwrap();
    let third = clinic.patient("en").await;
    third.say("I need a nurse").await;
    let got = pushed(&mut rx, 2).await;
    assert_eq!(got[0].0, "https://push.example/bella");
    assert_eq!(got[1].0, "https://push.example/gone/old");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while clinic
        .store
        .push_subscriptions()
        .await
        .unwrap()
        .iter()
        .any(|s| s.endpoint.contains("/gone/"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gone subscription stayed"
        );
        tokio::task::yield_now().await;
    }

    // Turning it off forgets it; another's is not the caller's to forget.
    let not_hers = s
        .unsubscribe_push(&bella, "https://push.example/nate")
        .await;
    assert!(
        matches!(not_hers, Err(ServiceError::NotFound(_))),
        "{not_hers:?}"
    );
    s.unsubscribe_push(&bella, "https://push.example/bella")
        .await
        .unwrap();
    assert_eq!(
        clinic.store.push_subscriptions_of(bella.id).await.unwrap(),
        []
    );
}
