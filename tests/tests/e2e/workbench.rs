//! The admins' workbench against the real models: a draft whose examples
//! went to the wrong intents is refused by the evaluation gate and nothing
//! goes live. (Publishing a new reply, a patient getting it with no
//! restart, and rollback are walked in Chromium: `tests/browser/admin.mjs`.)

use carechat_e2e::{Patient, Server};
use serde_json::{Value, json};

const QUESTION: &str = "what time do you open on saturday?";

/// A new patient's first bot reply to `text`.
async fn reply_to(server: &Server, text: &str) -> String {
    let mut patient = Patient::connect(server, "").await;
    patient.send(text).await;
    let reply = patient
        .next_where(|f| f["type"] == "message" && f["from"] == "bot")
        .await;
    reply["text"].as_str().unwrap().to_string()
}

fn intent<'a>(bench: &'a Value, id: &str) -> &'a Value {
    bench["live"]["intents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no intent {id}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draft_whose_examples_went_to_the_wrong_intents_is_refused_by_the_gate() {
    let server = Server::start();
    server.add_user("ada", "admin", "", "en", "a long admin secret");
    let ada = server.login("ada", "a long admin secret");
    let original = reply_to(&server, QUESTION).await;
    assert!(original.to_lowercase().contains("saturday"), "{original}");

    let (code, bench) = ada.get("/api/whitelist");
    assert_eq!(code, 200, "{bench}");
    assert_eq!(
        bench["live_version"], 1,
        "seeded from intents/ on the first start"
    );
    assert!(bench["draft"].is_null());

    // A draft that swaps two intents' examples: hours questions would get
    // the billing answer and billing questions the hours one.
    let hours = intent(&bench, "opening_hours").clone();
    let billing = intent(&bench, "billing_question").clone();
    let mut swapped_hours = hours.clone();
    swapped_hours["examples"] = billing["examples"].clone();
    let mut swapped_billing = billing.clone();
    swapped_billing["examples"] = hours["examples"].clone();
    for (id, body) in [
        ("opening_hours", &swapped_hours),
        ("billing_question", &swapped_billing),
    ] {
        let (code, answer) = ada.put(&format!("/api/whitelist/draft/intents/{id}"), body.clone());
        assert_eq!(code, 200, "{answer}");
    }
    let (code, refused) = ada.post("/api/whitelist/publish", json!({}));
    assert_eq!(code, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "gate_refused");
    let validation = refused["evaluation"]["sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["set"] == "validation")
        .unwrap();
    assert!(
        validation["after"]["wrong"].as_u64() > validation["before"]["wrong"].as_u64(),
        "{validation}"
    );
    assert_eq!(
        reply_to(&server, QUESTION).await,
        original,
        "nothing went live"
    );
    assert_eq!(ada.delete("/api/whitelist/draft").0, 204);

    // The folder a clinic keeps in Git, from the live version.
    let dir = server.dir.path().join("intents-out");
    let (out, _) = carechat_e2e::run_carechat(
        &[
            "intents",
            "export",
            dir.to_str().unwrap(),
            "--db",
            server.db_path().to_str().unwrap(),
        ],
        "",
    );
    assert!(out.contains("version 1"), "{out}");
    let exported = std::fs::read_to_string(dir.join("billing_question.toml")).unwrap();
    assert!(
        !exported.contains("what time does the office open in the morning"),
        "the refused draft's examples were exported"
    );

    // And back in as the draft, for the workbench to publish.
    let (out, _) = carechat_e2e::run_carechat(
        &[
            "intents",
            "import",
            dir.to_str().unwrap(),
            "--db",
            server.db_path().to_str().unwrap(),
        ],
        "",
    );
    assert!(out.contains("the draft is now"), "{out}");
    let (_, bench) = ada.get("/api/whitelist");
    assert_eq!(bench["draft"]["base"], 1, "{}", bench["draft"]);

    // `/metrics`, to this machine: the refusal and the patients' messages
    // are counted, and nothing they wrote is in it.
    let mut metrics = ureq::get(&format!("{}/metrics", server.base))
        .call()
        .unwrap();
    let metrics = metrics.body_mut().read_to_string().unwrap();
    assert!(
        metrics.contains("carechat_whitelist_publishes_total{outcome=\"refused\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("carechat_patient_messages_total{action=\"answer\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("carechat_assess_seconds_bucket"));
    assert!(!metrics.to_lowercase().contains("saturday"));

    let (_, trail) = ada.get("/api/audit?action=whitelist_publish_refused");
    assert_eq!(trail["entries"].as_array().map(Vec::len), Some(1));
    assert!(
        trail["entries"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("validation: wrong answers rose"),
        "{trail}"
    );
}
