//! What `/metrics` reports (Prometheus, through the `metrics` facade: the
//! server installs the recorder, this only counts). Counts and durations
//! only: never a message, a name, an id or an address in a label.
//!
//! | metric | type | labels | what |
//! | --- | --- | --- | --- |
//! | `carechat_patient_messages_total` | counter | `action` | patients' messages by what the bot did: `answer`, `escalate`, `urgent`, `block`, `hold` |
//! | `carechat_assess_seconds` | histogram | | time the models took to decide an ordinary message |
//! | `carechat_model_queue_depth` | gauge | | requests waiting for the sentence encoder when a message arrived |
//! | `carechat_sockets_open` | gauge | `side` | open sockets: `patient`, `clinician` |
//! | `carechat_wait_for_person_seconds` | histogram | | from a chat's last change before a clinician got it (queued, or started) to the assignment |
//! | `carechat_whitelist_publishes_total` | counter | `outcome` | workbench publishes: `live`, `refused` |
//! | `carechat_whitelist_rollbacks_total` | counter | | earlier whitelist versions made live again |
//! | `carechat_transcript_deliveries_total` | counter | `outcome` | ephemeral mode's webhook: `delivered`, `failed` |

use std::time::Duration;

use bot_engine::Action;

/// What the bot did, as a label and as the dashboard counts it.
pub fn action_word(action: Action) -> &'static str {
    match action {
        Action::Answer => "answer",
        Action::Escalate => "escalate",
        Action::Urgent => "urgent",
        Action::Block => "block",
        Action::Hold => "hold",
    }
}

pub fn patient_message(action: Action) {
    let action = action_word(action);
    metrics::counter!("carechat_patient_messages_total", "action" => action).increment(1);
}

pub fn assessed(took: Duration, queue_depth: usize) {
    metrics::histogram!("carechat_assess_seconds").record(took.as_secs_f64());
    metrics::gauge!("carechat_model_queue_depth").set(queue_depth as f64);
}

pub fn sockets(patients: usize, clinicians: usize) {
    metrics::gauge!("carechat_sockets_open", "side" => "patient").set(patients as f64);
    metrics::gauge!("carechat_sockets_open", "side" => "clinician").set(clinicians as f64);
}

pub fn waited(secs: i64) {
    metrics::histogram!("carechat_wait_for_person_seconds").record(secs.max(0) as f64);
}

pub fn published(live: bool) {
    let outcome = if live { "live" } else { "refused" };
    metrics::counter!("carechat_whitelist_publishes_total", "outcome" => outcome).increment(1);
}

pub fn rolled_back() {
    metrics::counter!("carechat_whitelist_rollbacks_total").increment(1);
}

pub fn delivery(delivered: bool) {
    let outcome = if delivered { "delivered" } else { "failed" };
    metrics::counter!("carechat_transcript_deliveries_total", "outcome" => outcome).increment(1);
}
