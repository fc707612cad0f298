//! Notifications on the service's own clock: staff emails batched (one per
//! interval, only with news, never to an open console or an auditor), the
//! on-call list texted once per urgent chat, and nothing sent holding a
//! patient's words. The sending is a recorder here; the real SMTP and SMS
//! peers are in `tests/tests/e2e/notify.rs`.

use std::sync::Mutex;

use router::Policy;
use store::{Accounts, Role, UserUpdate};

use super::*;
use crate::notify::{Notifications, Notifier};

#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(String, String, String)>>,
}

#[async_trait]
impl Notifier for Recorder {
    fn can_email(&self) -> bool {
        true
    }
    fn can_sms(&self) -> bool {
        true
    }
    async fn email(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        self.sent
            .lock()
            .unwrap()
            .push((to.into(), subject.into(), body.into()));
        Ok(())
    }
    async fn sms(&self, to: &str, body: &str) -> Result<(), String> {
        self.sent
            .lock()
            .unwrap()
            .push((to.into(), String::new(), body.into()));
        Ok(())
    }
}

async fn clinic(recorder: Arc<Recorder>) -> Clinic {
    Clinic::built(
        Policy::default().with_offline_form(None),
        crate::retention::Retention::default(),
        move |s| {
            s.with_notifications(Notifications {
                notifier: recorder,
                public_url: "https://chat.maple.test".into(),
                email_every_ms: 5 * 60_000,
                on_call: vec!["+15550100001".into()],
            })
        },
    )
    .await
}

async fn with_email(clinic: &Clinic, user: &User, email: &str) {
    clinic
        .store
        .update_user(
            user.id,
            UserUpdate {
                email: Some(Some(email.into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn staff_get_one_email_per_interval_with_news_and_counts_only() {
    let recorder = Arc::new(Recorder::default());
    let clinic = clinic(recorder.clone()).await;
    let fay = clinic.user("Fay", &["front_desk"], &["en"]).await;
    with_email(&clinic, &fay, "fay@maple.test").await;
    let otto = clinic.account("Otto", Role::Auditor, &[], &["en"]).await;
    with_email(&clinic, &otto, "otto@maple.test").await;
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    with_email(&clinic, &nate, "nate@maple.test").await;

    // Nothing waiting: nothing sent.
    assert_eq!(clinic.service.notify_staff().await, 0);

    let p = clinic.patient("en").await;
    p.say("can Maria change her appointment").await;
    clinic.clock.advance(Duration::from_secs(11));
    // Fay could serve it (front desk); Nate (nursing) could not; the
    // auditor is never told.
    assert_eq!(clinic.service.notify_staff().await, 1);

    // A second chat within five minutes: news, but not yet.
    let q = clinic.patient("en").await;
    q.say("a question about parking").await;
    clinic.clock.advance(Duration::from_secs(11));
    assert_eq!(clinic.service.notify_staff().await, 0);
    clinic.clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(clinic.service.notify_staff().await, 1);
    // Then nothing new: nothing sent, however long.
    clinic.clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(clinic.service.notify_staff().await, 0);

    // With her console open, Fay is not emailed.
    let _console = clinic.online(&fay).await;
    let r = clinic.patient("en").await;
    r.say("where do I send my forms").await;
    clinic.clock.advance(Duration::from_secs(11));
    assert_eq!(clinic.service.notify_staff().await, 0);

    // What went: to Fay, counts and a link, no words.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|(to, _, _)| to == "fay@maple.test"));
    assert_eq!(sent[0].1, "Carechat: 1 chat waiting");
    assert_eq!(sent[1].1, "Carechat: 2 chats waiting");
    assert!(sent[1].2.contains("2 left a message"), "{}", sent[1].2);
    assert!(sent[1].2.contains("https://chat.maple.test/console"));
    for (_, subject, body) in &sent {
        for word in ["Maria", "appointment", "parking"] {
            assert!(!subject.contains(word) && !body.contains(word), "{word}");
        }
    }
}

#[tokio::test]
async fn the_on_call_list_is_texted_once_per_urgent_chat() {
    let recorder = Arc::new(Recorder::default());
    let clinic = clinic(recorder.clone()).await;
    let p = clinic.patient("en").await;
    p.say("I have chest pain").await;
    p.say("the chest pain is worse").await;
    let q = clinic.patient("en").await;
    q.say("chest pain here too").await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "one per urgent chat: {sent:?}");
    for (to, _, body) in &sent {
        assert_eq!(to, "+15550100001");
        assert!(body.contains("urgent chat") && body.contains("https://chat.maple.test/console"));
        assert!(!body.contains("chest"), "{body}");
    }
}
