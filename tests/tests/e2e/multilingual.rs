//! The multilingual encoder: patients' Spanish and French questions match the
//! default whitelist's intents, whose examples are (nearly all) English, and
//! the canned reply goes out in the patient's language.

use carechat_e2e::{models_dir, multilingual_model, repo_root, run_carechat};
use serde_json::Value;

/// (id, question, expected intent, expected language)
const QUESTIONS: &[(&str, &str, &str, &str)] = &[
    (
        "es_hours",
        "¿A qué hora abren los sábados?",
        "opening_hours",
        "es",
    ),
    (
        "es_new",
        "¿Están aceptando pacientes nuevos este año?",
        "new_patient",
        "es",
    ),
    (
        "fr_hours",
        "Quels sont vos horaires d'ouverture le samedi ?",
        "opening_hours",
        "fr",
    ),
    (
        "fr_new",
        "Est-ce que vous acceptez de nouveaux patients en ce moment ?",
        "new_patient",
        "fr",
    ),
];

fn classify(model: &str) -> Vec<Value> {
    let input: String = QUESTIONS
        .iter()
        .map(|(id, text, _, _)| format!("{}\n", serde_json::json!({"id": id, "text": text})))
        .collect();
    let intents = repo_root().join("intents");
    let models = models_dir();
    let (stdout, _) = run_carechat(
        &[
            "classify",
            "--model",
            model,
            "--intents",
            intents.to_str().unwrap(),
            "--models-dir",
            models.to_str().unwrap(),
        ],
        &input,
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The clinic's canned reply for `intent` in `language`, read from the file.
fn whitelist_reply(intent: &str, language: &str) -> String {
    let path = repo_root().join("intents").join(format!("{intent}.toml"));
    let file: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["replies"][language]
        .as_str()
        .unwrap_or_else(|| panic!("{intent} has no {language} reply"))
        .to_string()
}

#[test]
fn spanish_and_french_questions_get_the_english_intents_reply_in_their_language() {
    let out = classify(multilingual_model());
    assert_eq!(out.len(), QUESTIONS.len(), "{out:?}");
    for ((id, text, intent, language), got) in QUESTIONS.iter().zip(&out) {
        assert_eq!(got["id"], *id);
        assert_eq!(got["intent"], *intent, "{text}: {got}");
        assert_eq!(got["action"], "answer", "{text}: {got}");
        assert_eq!(got["language"], *language, "{text}: {got}");
        assert_eq!(got["reply"], whitelist_reply(intent, language), "{text}");
    }
}

/// What the test above is worth: the English encoder does not understand the
/// French questions (the whitelist has no French examples), so it escalates
/// them or picks another intent.
#[test]
fn the_english_encoder_does_not_answer_the_french_questions() {
    let out = classify("default");
    for ((id, text, intent, _), got) in QUESTIONS.iter().zip(&out) {
        if id.starts_with("fr") {
            assert!(
                got["action"] != "answer" || got["intent"] != *intent,
                "{text}: {got}"
            );
        }
    }
}
