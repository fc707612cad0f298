//! Table and scenario tests of the router's rules, one file per concern,
//! named after the module whose rules it exercises; the helpers they share
//! are here.

use super::*;

mod offers;
mod policy;
mod queue;
mod roster;
mod router;
mod translate;

// A skill nobody has, so setup chats stay queued until a test takes them.
const NOBODY: &str = "__nobody__";

fn clin(id: ClinicianId, skills: &[&str], languages: &[&str]) -> Clinician {
    Clinician::new(id, format!("Clinician {id}"))
        .with_skills(skills.iter().copied())
        .with_languages(languages.iter().copied())
}

/// A router whose clinicians are all available.
fn router_with(clinicians: &[Clinician]) -> Router {
    let mut r = Router::new();
    for c in clinicians {
        assert!(r.upsert_clinician(c.clone(), 0).is_empty());
        assert!(
            r.set_presence(c.id, Presence::Available, 0)
                .unwrap()
                .is_empty()
        );
    }
    r
}

/// Gives `clinician` `n` open chats by hand, stamped at `at_ms`, without
/// touching anyone else.
fn preload(r: &mut Router, clinician: ClinicianId, n: usize, at_ms: u64) {
    for i in 0..n {
        let conv = format!("pre-{clinician}-{i}-{at_ms}");
        let routed = r
            .route(Request::new(conv.clone(), "en", at_ms).with_skill(NOBODY))
            .unwrap();
        assert!(matches!(routed, Routed::Queued { .. }));
        r.take(&conv, clinician, at_ms).unwrap();
    }
}

fn req(conv: &str, skill: Option<&str>, language: &str, urgent: bool, at_ms: u64) -> Request {
    let r = Request::new(conv, language, at_ms).with_urgent(urgent);
    match skill {
        Some(s) => r.with_skill(s),
        None => r,
    }
}

fn queue_ids(r: &Router) -> Vec<String> {
    r.queue().into_iter().map(|q| q.conversation).collect()
}

fn assignment(conversation: &str, clinician: ClinicianId) -> Assignment {
    Assignment {
        conversation: conversation.to_owned(),
        clinician,
        offer_expires_at: None,
    }
}

const OFFER_MS: u64 = 30_000;

fn offering(clinicians: &[Clinician]) -> Router {
    let mut r = Router::with_policy(Policy::default().with_offer_timeout_ms(OFFER_MS));
    for c in clinicians {
        r.upsert_clinician(c.clone(), 0);
        r.set_presence(c.id, Presence::Available, 0).unwrap();
    }
    r
}

fn offered(conversation: &str, clinician: ClinicianId, expires_at: u64) -> Assignment {
    Assignment {
        conversation: conversation.to_owned(),
        clinician,
        offer_expires_at: Some(expires_at),
    }
}

fn with_policy(policy: Policy, clinicians: &[(Clinician, Presence)]) -> Router {
    let mut r = Router::with_policy(policy);
    for (c, p) in clinicians {
        r.upsert_clinician(c.clone(), 0);
        r.set_presence(c.id, *p, 0).unwrap();
    }
    r
}
