//! The admins' workbench against the real models: an admin changes a
//! reply, publishes, and the next patient gets it with no restart; a draft
//! whose examples went to the wrong intents is refused by the evaluation
//! gate; an earlier version comes back in one action.

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
async fn an_admin_changes_a_reply_publishes_past_the_gate_and_rolls_back() {
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

    // A new reply: it passes, and the next patient gets it.
    let new_reply = "Saturday hours changed: we now open at 7:00 and close at 13:00.";
    let mut edited = hours.clone();
    edited["replies"]["en"] = json!(new_reply);
    let (code, answer) = ada.put("/api/whitelist/draft/intents/opening_hours", edited);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["draft"]["base"], 1);
    let (code, published) = ada.post("/api/whitelist/publish", json!({}));
    assert_eq!(code, 200, "{published}");
    assert_eq!(published["evaluation"]["passed"], true, "{published}");
    assert_eq!(published["version"]["id"], 2);
    assert_eq!(reply_to(&server, QUESTION).await, new_reply);

    let (_, versions) = ada.get("/api/whitelist/versions");
    let listed: Vec<(i64, bool)> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_i64().unwrap(), v["live"].as_bool().unwrap()))
        .collect();
    assert_eq!(listed, [(2, true), (1, false)]);

    // One action back to the first version.
    let (code, back) = ada.post("/api/whitelist/rollback", json!({"version": 1}));
    assert_eq!(code, 200, "{back}");
    assert_eq!(reply_to(&server, QUESTION).await, original);

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
    let exported = std::fs::read_to_string(dir.join("opening_hours.toml")).unwrap();
    assert!(!exported.contains(new_reply));

    let (_, trail) = ada.get("/api/audit?action=whitelist_publish_refused");
    assert_eq!(trail["entries"].as_array().map(Vec::len), Some(1));
    let (_, trail) = ada.get("/api/audit?action=whitelist_rollback");
    assert_eq!(trail["entries"][0]["detail"], "version=1");
}
