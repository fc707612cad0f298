//! The workbench: a draft edited by an admin only, the evaluation gate
//! refusing a version that answers wrongly (unless overridden, audited),
//! publishing without a restart, and rollback. The bots are scripted here
//! (one that files "hours" questions under billing stands for a bad
//! draft); the real models are tested end to end
//! (`tests/tests/e2e/workbench.rs`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use bot_engine::{Case, Evaluation, Intent};
use store::{Moderation, NewWhitelistVersion, Role, Whitelists};

use super::*;
use crate::ServiceError;
use crate::workbench::{Published, SetReport, judge};

/// Scripted, but answers what it takes for opening hours with the billing
/// intent's answer: a draft whose examples went to the wrong intent.
struct MixedUp;

#[async_trait]
impl Assistant for MixedUp {
    fn emergency(&self, text: &str, ctx: &Context) -> Option<Emergency> {
        ScriptedBot.emergency(text, ctx)
    }

    async fn assess(&self, text: &str, ctx: &Context) -> Result<Assessment, EngineError> {
        let mut a = ScriptedBot.assess(text, ctx).await?;
        if a.intent.as_deref() == Some("opening_hours") {
            a.intent = Some("billing_question".into());
        }
        Ok(a)
    }

    async fn redact(&self, text: &str) -> Result<String, EngineError> {
        ScriptedBot.redact(text).await
    }

    async fn redact_urgent(&self, text: &str) -> Result<Redacted, EngineError> {
        ScriptedBot.redact_urgent(text).await
    }
}

/// Builds the scripted bot; while `misfile` is set, [`MixedUp`] for a
/// whitelist edited here (its hours intent has [`hours`]'s phrasings).
struct Shop {
    misfile: AtomicBool,
    /// Bots built: to be judged, and to run.
    judged: AtomicUsize,
    running: AtomicUsize,
}

#[async_trait]
impl crate::Workshop for Shop {
    async fn build(
        &self,
        whitelist: Arc<Whitelist>,
        judged: bool,
    ) -> anyhow::Result<Arc<dyn Assistant>> {
        if judged { &self.judged } else { &self.running }.fetch_add(1, Ordering::SeqCst);
        let edited = whitelist
            .intent("opening_hours")
            .is_some_and(|i| i.validation.iter().any(|v| v == "hours on saturday?"));
        Ok(if edited && self.misfile.load(Ordering::SeqCst) {
            Arc::new(MixedUp)
        } else {
            Arc::new(ScriptedBot)
        })
    }
}

async fn clinic(misfile: bool) -> (Clinic, Arc<Shop>) {
    let shop = Arc::new(Shop {
        misfile: AtomicBool::new(misfile),
        judged: AtomicUsize::new(0),
        running: AtomicUsize::new(0),
    });
    let workshop = shop.clone();
    let clinic = Clinic::with(|s| s.with_workshop(workshop)).await;
    clinic
        .store
        .publish_whitelist(
            NewWhitelistVersion {
                files: WHITELIST_FILES
                    .iter()
                    .map(|(n, t)| (n.to_string(), t.to_string()))
                    .collect::<BTreeMap<_, _>>(),
                created_by: None,
                note: "seeded".into(),
                evaluation: None,
                override_reason: None,
            },
            None,
        )
        .await
        .unwrap();
    (clinic, shop)
}

/// The live opening-hours intent with another reply and validation
/// phrasings the scripted bots read.
fn hours(reply: &str) -> Intent {
    let mut intent = whitelist().intent("opening_hours").unwrap().clone();
    intent.replies.insert("en".into(), reply.into());
    intent.validation = vec!["what are your hours".into(), "hours on saturday?".into()];
    intent
}

#[tokio::test]
async fn an_edit_that_passes_the_gate_goes_live_and_an_earlier_version_comes_back() {
    let (clinic, _) = clinic(false).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let reply = |s: &Service| {
        s.whitelist()
            .intent("opening_hours")
            .unwrap()
            .reply("en")
            .1
            .to_string()
    };
    let before = reply(&clinic.service);

    assert!(matches!(
        clinic
            .service
            .put_draft_intent(&bella, "opening_hours", hours("We open at 7."), None)
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    let bench = clinic
        .service
        .put_draft_intent(&ada, "opening_hours", hours("We open at 7."), None)
        .await
        .unwrap();
    let draft = bench.draft.expect("a draft");
    assert_eq!(draft.base, Some(1));
    let edited = draft
        .whitelist
        .intents
        .iter()
        .find(|i| i.id == "opening_hours");
    assert_eq!(edited.unwrap().replies["en"], "We open at 7.");
    assert_eq!(reply(&clinic.service), before, "a draft is not live");

    let Published::Live { version, report } = clinic
        .service
        .publish_whitelist(&ada, None, Some("10.0.0.5".into()))
        .await
        .unwrap()
    else {
        panic!("refused")
    };
    assert!(report.passed, "{report:?}");
    let validation = report.sets.iter().find(|s| s.set == "validation").unwrap();
    assert_eq!(validation.after, validation.before, "the same answers");
    assert!(validation.after.right >= 2, "{validation:?}");
    assert_eq!(version.id, 2);
    assert_eq!(reply(&clinic.service), "We open at 7.");
    assert!(clinic.store.whitelist_draft().await.unwrap().is_none());

    let versions = clinic.service.whitelist_versions(&ada).await.unwrap();
    let listed: Vec<(i64, bool)> = versions.iter().map(|v| (v.id, v.live)).collect();
    assert_eq!(listed, [(2, true), (1, false)]);

    clinic
        .service
        .rollback_whitelist(&ada, 1, None)
        .await
        .unwrap();
    assert_eq!(reply(&clinic.service), before);
    assert!(matches!(
        clinic.service.rollback_whitelist(&ada, 9, None).await,
        Err(ServiceError::NotFound(_))
    ));
    let trail: Vec<(String, String, String)> = clinic
        .store
        .audit_log(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("whitelist"))
        .map(|e| (e.action, e.subject, e.detail))
        .collect();
    assert_eq!(
        trail,
        [
            (
                "whitelist_rollback".to_string(),
                "whitelist".to_string(),
                "version=1".to_string()
            ),
            (
                "whitelist_publish".to_string(),
                "version:2".to_string(),
                "passed".to_string()
            ),
            (
                "whitelist_draft".to_string(),
                "whitelist".to_string(),
                "intent=opening_hours".to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn a_draft_that_answers_wrongly_is_refused_unless_an_admin_says_why() {
    let (clinic, _) = clinic(true).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    clinic
        .service
        .put_draft_intent(&ada, "opening_hours", hours("We open at 7."), None)
        .await
        .unwrap();
    let before = clinic.service.whitelist();
    let Published::Refused(report) = clinic
        .service
        .publish_whitelist(&ada, None, None)
        .await
        .unwrap()
    else {
        panic!("published a version that answers hours with billing")
    };
    assert!(!report.passed);
    let validation = report.sets.iter().find(|s| s.set == "validation").unwrap();
    assert_eq!(
        validation.after.wrong,
        validation.before.wrong + 2,
        "both hours phrasings answered as billing"
    );
    assert!(
        report.reasons[0].starts_with("validation: wrong answers rose from "),
        "{:?}",
        report.reasons
    );
    assert!(
        Arc::ptr_eq(&before, &clinic.service.whitelist()),
        "nothing changed"
    );
    let refused = &clinic.store.audit_log(1).await.unwrap()[0];
    assert_eq!(refused.action, "whitelist_publish_refused");
    assert!(
        clinic.store.whitelist_draft().await.unwrap().is_some(),
        "the draft stays"
    );

    assert!(matches!(
        clinic
            .service
            .publish_whitelist(&ada, Some("because"), None)
            .await,
        Err(ServiceError::BadRequest(_))
    ));
    let Published::Live { version, .. } = clinic
        .service
        .publish_whitelist(
            &ada,
            Some("billing owns hours questions now, Maria says"),
            None,
        )
        .await
        .unwrap()
    else {
        panic!("an override publishes")
    };
    // The reason is redacted like any staff text.
    assert_eq!(
        version.override_reason.as_deref(),
        Some("billing owns hours questions now, [NAME] says")
    );
    let line = &clinic.store.audit_log(1).await.unwrap()[0];
    assert_eq!(line.action, "whitelist_publish");
    assert!(line.detail.starts_with("override: "), "{}", line.detail);
}

#[tokio::test]
async fn the_emergency_intent_stays_urgent_and_a_draft_always_loads() {
    let (clinic, _) = clinic(false).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let mut calm = whitelist().intent("emergency").unwrap().clone();
    calm.urgent = false;
    for result in [
        clinic
            .service
            .put_draft_intent(&ada, "emergency", calm, None)
            .await,
        clinic
            .service
            .delete_draft_intent(&ada, "emergency", None)
            .await,
    ] {
        let Err(ServiceError::BadRequest(why)) = result else {
            panic!("the emergency intent was weakened")
        };
        assert!(why.contains("emergency intent"), "{why}");
    }
    let mut empty = hours("We open at 7.");
    empty.examples.clear();
    let Err(ServiceError::BadRequest(why)) = clinic
        .service
        .put_draft_intent(&ada, "opening_hours", empty, None)
        .await
    else {
        panic!("a draft that does not load was kept")
    };
    assert!(why.contains("no examples"), "{why}");
    for bad in ["Opening", "messages", "", "a/b"] {
        assert!(matches!(
            clinic
                .service
                .put_draft_intent(&ada, bad, hours("x"), None)
                .await,
            Err(ServiceError::BadRequest(_))
        ));
    }
    // The clinic's own test set must name intents that exist.
    assert!(matches!(
        clinic
            .service
            .put_draft_tests(
                &ada,
                vec![Case {
                    text: "parking?".into(),
                    intent: Some("parking".into())
                }],
                None
            )
            .await,
        Err(ServiceError::BadRequest(_))
    ));
    assert!(clinic.store.whitelist_draft().await.unwrap().is_none());
}

#[test]
fn the_gate_allows_the_tolerance_and_no_more() {
    let e = |in_scope, wrong, oos, oos_answered| Evaluation {
        in_scope,
        right: in_scope - wrong,
        wrong,
        escalated: 0,
        out_of_scope: oos,
        out_of_scope_answered: oos_answered,
    };
    let set = |before, after| SetReport {
        set: "validation",
        before,
        after,
    };
    assert!(judge(vec![set(e(100, 2, 50, 1), e(100, 3, 50, 1))], 0.01).passed);
    let refused = judge(vec![set(e(100, 2, 50, 1), e(100, 4, 50, 1))], 0.01);
    assert!(!refused.passed);
    assert_eq!(
        refused.reasons,
        ["validation: wrong answers rose from 2.0% to 4.0% (4 of 100)"]
    );
    let oos = judge(vec![set(e(0, 0, 50, 1), e(0, 0, 50, 3))], 0.01);
    assert_eq!(
        oos.reasons,
        ["validation: out-of-scope questions answered rose from 2.0% to 6.0% (3 of 50)"]
    );
    // Fewer mistakes always pass.
    assert!(judge(vec![set(e(100, 9, 50, 9), e(100, 0, 50, 0))], 0.0).passed);
}

#[tokio::test]
async fn a_message_tried_on_the_draft_and_no_bot_built_twice() {
    let (clinic, shop) = clinic(false).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let built = || {
        (
            shop.judged.load(Ordering::SeqCst),
            shop.running.load(Ordering::SeqCst),
        )
    };
    // No draft: the live bot answers, nothing is built.
    let tried = clinic
        .service
        .try_draft(&ada, "what are your hours")
        .await
        .unwrap();
    assert!(!tried.draft);
    assert_eq!(
        (tried.action, tried.intent.as_deref()),
        ("answer", Some("opening_hours"))
    );
    assert_eq!(built(), (0, 0));
    assert!(matches!(
        clinic
            .service
            .try_draft(&bella, "what are your hours")
            .await,
        Err(ServiceError::Forbidden(_))
    ));

    clinic
        .service
        .put_draft_intent(&ada, "opening_hours", hours("We open at 7."), None)
        .await
        .unwrap();
    let tried = clinic
        .service
        .try_draft(&ada, "what are your hours")
        .await
        .unwrap();
    assert!(tried.draft);
    assert_eq!(tried.title.as_deref(), Some("Opening hours"));
    assert_eq!(tried.reply, "We open at 8.", "the scripted bot's own reply");
    // A second try of the same draft reuses its bot.
    clinic
        .service
        .try_draft(&ada, "a question about my bill")
        .await
        .unwrap();
    assert_eq!(built(), (0, 1));

    // Publishing judges the live version and the draft, and the tried
    // bot goes live.
    assert!(matches!(
        clinic.service.publish_whitelist(&ada, None, None).await,
        Ok(Published::Live { .. })
    ));
    assert_eq!(built(), (2, 1));
    // The next publish judges only its draft: the live version's judged
    // bot is kept from the publish that made it live.
    clinic
        .service
        .put_draft_intent(&ada, "opening_hours", hours("We open at 6."), None)
        .await
        .unwrap();
    clinic
        .service
        .publish_whitelist(&ada, None, None)
        .await
        .unwrap();
    assert_eq!(built(), (3, 2));
    // After a rollback the live version's judged bot is built again.
    clinic
        .service
        .rollback_whitelist(&ada, 1, None)
        .await
        .unwrap();
    clinic
        .service
        .put_draft_intent(&ada, "opening_hours", hours("We open at 5."), None)
        .await
        .unwrap();
    clinic
        .service
        .publish_whitelist(&ada, None, None)
        .await
        .unwrap();
    assert_eq!(built(), (5, 4));
}
