//! The JSON-lines CLIs that evaluations drive.

use std::process::Command;

use carechat_e2e::{carechat, models_dir, repo_root, run_carechat};
use serde_json::Value;

fn run(args: &[&str], input: &str) -> (Vec<Value>, String) {
    let (stdout, stderr) = run_carechat(args, input);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, stderr)
}

#[test]
fn redact_reports_char_offsets_and_survives_bad_lines() {
    let input = concat!(
        r#"{"id":1,"text":"José called from 555-123-4567"}"#,
        "\n",
        "not json\n",
        r#"{"id":"no-text"}"#,
        "\n",
        r#"{"id":2,"text":"BP 142/91, take 2 tablets 3 times a day"}"#,
        "\n"
    );
    let models = models_dir();
    let models = models.to_str().unwrap();
    let (out, err) = run(&["redact", "--models-dir", models], input);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["id"], 1);
    // No list or rule knows "José" at the start of a line; the PII model does.
    assert_eq!(out[0]["text"], "[NAME] called from [PHONE]");
    let spans = out[0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!(spans[0]["kind"], "name");
    assert_eq!(
        (spans[0]["start"].as_u64(), spans[0]["end"].as_u64()),
        (Some(0), Some(4))
    );
    // "José" is 4 characters but 5 bytes: offsets count characters.
    assert_eq!(
        (spans[1]["start"].as_u64(), spans[1]["end"].as_u64()),
        (Some(17), Some(29))
    );
    assert_eq!(spans[1]["kind"], "phone");
    assert_eq!(out[1]["text"], "BP 142/91, take 2 tablets 3 times a day");
    assert_eq!(out[1]["spans"].as_array().unwrap().len(), 0);
    assert!(err.contains("line 2") && err.contains("not JSON"), "{err}");
    assert!(err.contains("line 3") && err.contains("text"), "{err}");

    // Rules only: the same format, without the model's name.
    let (out, _) = run(&["redact", "--rules-only", "--models-dir", models], input);
    assert_eq!(out[0]["text"], "José called from [PHONE]");
}

#[test]
fn classify_answers_escalates_flags_and_blocks() {
    let intents = repo_root().join("intents");
    let input = concat!(
        r#"{"id":"hours","text":"what time do you open on saturday?"}"#,
        "\n",
        r#"{"id":"urgent","text":"I think I am having a stroke, my face is drooping"}"#,
        "\n",
        r#"{"id":"results","text":"can you tell me my blood test results"}"#,
        "\n",
        r#"{"id":"spam","text":"We will get your clinic to the first page of Google with our SEO backlinks www.rankfast.biz click here"}"#,
        "\n",
        "{broken\n",
        r#"{"id":"oos","text":"what is the capital of Australia?"}"#,
        "\n"
    );
    let models = models_dir();
    let (out, err) = run(
        &[
            "classify",
            "--intents",
            intents.to_str().unwrap(),
            "--models-dir",
            models.to_str().unwrap(),
        ],
        input,
    );
    let by_id = |id: &str| {
        out.iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {out:?}"))
    };
    assert_eq!(by_id("hours")["intent"], "opening_hours");
    assert_eq!(by_id("hours")["action"], "answer");
    assert_eq!(by_id("hours")["language"], "en");
    assert_eq!(by_id("urgent")["action"], "urgent");
    assert_eq!(by_id("results")["action"], "escalate");
    assert_eq!(by_id("results")["intent"], "test_results");
    // Flagged on its words alone, first message: held for a person.
    assert_eq!(by_id("spam")["action"], "hold");
    assert_eq!(by_id("spam")["spam"], true);
    assert_eq!(by_id("oos")["action"], "escalate");
    assert_eq!(by_id("oos")["intent"], Value::Null);
    assert!(err.contains("line 5"), "{err}");
    for v in &out {
        let c = v["confidence"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&c), "{v}");
    }
}

/// The issue's spam target, on the fifth of the SMS Spam Collection no
/// model was trained on, through the bot as it runs by default (`carechat
/// classify`: redaction, the default encoder, then n-grams and embedding;
/// every line a first message): recall at least 95% with at most 0.5% of
/// legitimate messages flagged.
#[test]
fn held_out_sms_spam_through_the_bot() {
    let path = repo_root().join("../shared/data/spam/sms_spam_train.tsv");
    let Ok(data) = std::fs::read_to_string(&path) else {
        eprintln!(
            "SKIPPED: {} is not there (the SMS Spam Collection is not in the repository)",
            path.display()
        );
        return;
    };
    let held_out: Vec<_> = bot_engine::train::spam::parse_tsv(&data)
        .unwrap()
        .into_iter()
        .filter(|e| bot_engine::train::spam::part(&e.text) == bot_engine::train::spam::Part::Test)
        .collect();
    let input: String = held_out
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{}\n", serde_json::json!({"id": i, "text": e.text})))
        .collect();
    let intents = repo_root().join("intents");
    let models = models_dir();
    let (out, _) = run(
        &[
            "classify",
            "--intents",
            intents.to_str().unwrap(),
            "--models-dir",
            models.to_str().unwrap(),
        ],
        &input,
    );
    assert_eq!(out.len(), held_out.len());
    let (mut caught, mut spam, mut flagged, mut ham) = (0, 0, 0, 0);
    for v in &out {
        let e = &held_out[v["id"].as_u64().unwrap() as usize];
        let is_flagged = v["spam"].as_bool().unwrap();
        if e.spam {
            spam += 1;
            caught += usize::from(is_flagged);
        } else {
            ham += 1;
            flagged += usize::from(is_flagged);
        }
    }
    let recall = caught as f64 / spam as f64;
    let flagged_share = flagged as f64 / ham as f64;
    assert!(recall >= 0.95, "recall {recall:.4} ({caught} of {spam})");
    assert!(
        flagged_share <= 0.005,
        "legitimate flagged {flagged_share:.4} ({flagged} of {ham})"
    );
}

/// The redactor's table of cases (`redaction/testdata/cases.jsonl`), through
/// `carechat redact` with the PII model on: every identifier the rules find
/// stays hidden, and clinical text stays untouched. Where the model rightly
/// differs from the rules ("Maria called yesterday": the rules leave a lone
/// name at the start of a sentence), the row says so in `with_model`.
#[test]
fn redact_with_the_model_keeps_the_table_of_cases() {
    let table =
        std::fs::read_to_string(repo_root().join("redaction/testdata/cases.jsonl")).unwrap();
    let cases: Vec<Value> = table
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let input: String = cases
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}\n", serde_json::json!({"id": i, "text": c["text"]})))
        .collect();
    let models = models_dir();
    let (out, _) = run(
        &["redact", "--models-dir", models.to_str().unwrap()],
        &input,
    );
    assert_eq!(out.len(), cases.len());
    let mut failures = Vec::new();
    for (c, r) in cases.iter().zip(&out) {
        let text: Vec<char> = c["text"].as_str().unwrap().chars().collect();
        let expect = c
            .get("with_model")
            .unwrap_or(&c["expect"])
            .as_array()
            .unwrap();
        let mut hidden = vec![false; text.len()];
        let mut got = Vec::new();
        for s in r["spans"].as_array().unwrap() {
            let (a, b) = (
                s["start"].as_u64().unwrap() as usize,
                s["end"].as_u64().unwrap() as usize,
            );
            hidden[a..b].iter_mut().for_each(|h| *h = true);
            got.push(text[a..b].iter().collect::<String>());
        }
        let ok = if expect.is_empty() {
            got.is_empty()
        } else {
            expect.iter().all(|e| {
                let want: Vec<char> = e[1].as_str().unwrap().chars().collect();
                (0..=text.len().saturating_sub(want.len()))
                    .find(|&i| text[i..i + want.len()] == want[..])
                    .is_some_and(|i| hidden[i..i + want.len()].iter().all(|&h| h))
            })
        };
        if !ok {
            failures.push(format!("{:?}: expected {expect:?}, got {got:?}", c["text"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A message longer than the PII model's 512 positions is read in
/// overlapping windows: a name near its end, which no rule knows, is still
/// found (the rules alone find only the one after "this is").
#[test]
fn redact_windows_a_long_message() {
    let filler = "I have had a cough for a week and the pharmacy said to ask you about it. ";
    let text = format!(
        "Hi, this is Okonkwo Adeyemi. {}Please call Okonkwo Adeyemi back.",
        filler.repeat(40)
    );
    let input = format!("{}\n", serde_json::json!({"id": 1, "text": text}));
    let models = models_dir();
    let models = models.to_str().unwrap();
    let (out, _) = run(&["redact", "--models-dir", models], &input);
    let redacted = out[0]["text"].as_str().unwrap();
    assert!(
        !redacted.contains("Okonkwo"),
        "{}",
        &redacted[redacted.len() - 60..]
    );
    assert!(redacted.ends_with("Please call [NAME] back."));
    let (out, _) = run(&["redact", "--rules-only", "--models-dir", models], &input);
    assert!(
        out[0]["text"]
            .as_str()
            .unwrap()
            .ends_with("Okonkwo Adeyemi back.")
    );
}

/// `carechat train encoder` fine-tunes the sentence encoder on the default
/// whitelist's examples and writes a model directory that `--model` runs:
/// the tuned encoder answers what the whitelist covers and escalates what
/// it does not. Reusing a pulled model's name, or running a model that does
/// not exist, is a clear error.
#[test]
fn train_encoder_writes_a_model_the_bot_runs() {
    let bin = carechat();
    // A models directory of its own, so the tuned model and its caches go
    // away with the test; the pulled models are linked in.
    let dir = tempfile::tempdir().unwrap();
    for model in ["all-MiniLM-L6-v2", "pii-ner"] {
        std::os::unix::fs::symlink(models_dir().join(model), dir.path().join(model)).unwrap();
    }
    let models = dir.path().to_str().unwrap();
    let intents = repo_root().join("intents");
    let intents = intents.to_str().unwrap();
    let train = |out: &str| {
        Command::new(bin)
            .args(["train", "encoder", "--intents", intents, "--out", out])
            .args(["--epochs", "2", "--models-dir", models])
            .output()
            .unwrap()
    };
    let refused = train("all-MiniLM-L6-v2");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("choose another"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let trained = train("clinic-tuned");
    let err = String::from_utf8_lossy(&trained.stderr);
    assert!(trained.status.success(), "{err}");
    assert!(err.contains("epoch 2/2"), "{err}");
    let record: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("clinic-tuned").join("tuned.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["base"], "all-MiniLM-L6-v2");
    assert!(record["examples"].as_u64().unwrap() > 300, "{record}");
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        assert!(
            dir.path().join("clinic-tuned").join(file).is_file(),
            "{file}"
        );
    }

    let input = concat!(
        r#"{"id":"hours","text":"what time do you open on saturday?"}"#,
        "\n",
        r#"{"id":"refill","text":"I need a refill of my blood pressure pills"}"#,
        "\n",
        r#"{"id":"oos","text":"what is the capital of Australia?"}"#,
        "\n"
    );
    let classify = ["classify", "--intents", intents, "--models-dir", models];
    let (out, _) = run(
        &[&classify[..], &["--model", "clinic-tuned"]].concat(),
        input,
    );
    let by_id = |id: &str| {
        out.iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {out:?}"))
    };
    assert_eq!(by_id("hours")["intent"], "opening_hours", "{out:?}");
    assert_eq!(by_id("hours")["action"], "answer", "{out:?}");
    assert_eq!(by_id("refill")["intent"], "refill_request", "{out:?}");
    assert_eq!(by_id("oos")["action"], "escalate", "{out:?}");

    let missing = Command::new(bin)
        .args([&classify[..], &["--model", "no-such-model"]].concat())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("unknown sentence encoder") && err.contains("all-MiniLM-L6-v2"),
        "{err}"
    );
}

#[test]
fn user_add_refuses_a_state_that_is_not_two_capitals_or_a_bad_language() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("carechat.db");
    for (flag, value, says) in [
        ("--states", "California", "two capital letters"),
        ("--languages", "Spanish", "is not a language"),
    ] {
        let out = Command::new(carechat())
            .args([
                "user",
                "add",
                "x",
                "--role",
                "clinician",
                flag,
                value,
                "--db",
            ])
            .arg(&db)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag} {value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
}
