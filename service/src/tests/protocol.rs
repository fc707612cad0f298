//! `docs/protocol.md` and the frame types say the same thing: every frame
//! the doc lists has a variant, every variant is in the doc, and each
//! frame's fields are the ones its row names.

use std::collections::{BTreeMap, BTreeSet};

use router::Presence;
use serde_json::Value;
use store::{ConvState, ConversationId, MessageId, Role, Sender, StaffTextId, Timestamp, UserId};

use crate::frames::{ClinicianFrame, PatientFrame, PatientStatus};
use crate::views::{HistoryItem, MessageView, Summary, TeamMessageView, UserView};

const DOC: &str = include_str!("../../../docs/protocol.md");

/// The frame rows of the table under `heading`: type to (the keys its
/// pattern names, the keys its description adds, the `state` values).
struct Row {
    keys: BTreeSet<String>,
    optional: BTreeSet<String>,
    states: BTreeSet<String>,
}

fn quoted(s: &str) -> Vec<String> {
    s.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The top-level keys of a pattern such as `{"type":"x","a":A,"b":[{...}]}`.
fn top_keys(pattern: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let (mut depth, mut in_str, mut current, mut start) = (0, false, String::new(), true);
    for c in pattern.chars() {
        match c {
            '"' => {
                in_str = !in_str;
                if !in_str && depth == 1 && start {
                    keys.insert(std::mem::take(&mut current));
                    start = false;
                } else if in_str {
                    current.clear();
                }
            }
            _ if in_str => current.push(c),
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 1 => start = true,
            _ => {}
        }
        if depth == 1 && c == '{' {
            start = true;
        }
    }
    keys
}

fn table(heading: &str) -> BTreeMap<String, Row> {
    let at = DOC
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in docs/protocol.md"));
    let mut rows = BTreeMap::new();
    for line in DOC[at..].lines().skip(1) {
        if line.starts_with('#') {
            break;
        }
        let Some(rest) = line.strip_prefix("| `{\"type\":\"") else {
            continue;
        };
        let kind = rest.split('"').next().unwrap().to_string();
        let (pattern, description) = line[3..].split_once("` |").unwrap();
        let pattern = pattern.replace("\\|", "|");
        let states = if kind == "status" {
            quoted(
                pattern
                    .split("\"state\":")
                    .nth(1)
                    .unwrap()
                    .split(',')
                    .next()
                    .unwrap(),
            )
            .into_iter()
            .collect()
        } else {
            BTreeSet::new()
        };
        rows.insert(
            kind,
            Row {
                keys: top_keys(&pattern),
                optional: quoted(description).into_iter().collect(),
                states,
            },
        );
    }
    assert!(!rows.is_empty(), "no frames under {heading:?}");
    rows
}

fn check(heading: &str, samples: Vec<Value>) {
    let rows = table(heading);
    let mut seen = BTreeSet::new();
    let mut states = BTreeSet::new();
    for frame in samples {
        let kind = frame["type"].as_str().unwrap().to_string();
        let row = rows
            .get(&kind)
            .unwrap_or_else(|| panic!("{kind:?} is not in docs/protocol.md under {heading:?}"));
        let keys: BTreeSet<String> = frame.as_object().unwrap().keys().cloned().collect();
        for key in &keys {
            assert!(
                row.keys.contains(key)
                    || row.optional.contains(key)
                    || (kind == "status" && row.optional.contains(key)),
                "{kind}: the doc does not name {key:?} ({frame})"
            );
        }
        for key in &row.keys {
            assert!(
                keys.contains(key),
                "{kind}: the doc names {key:?}, the frame has none ({frame})"
            );
        }
        if kind == "status" {
            states.insert(frame["state"].as_str().unwrap().to_string());
        }
        seen.insert(kind);
    }
    let documented: BTreeSet<String> = rows.keys().cloned().collect();
    assert_eq!(
        seen, documented,
        "frames in the doc and the types differ under {heading:?}"
    );
    if let Some(status) = rows.get("status") {
        assert_eq!(states, status.states, "status states");
    }
}

fn at() -> Timestamp {
    Timestamp::from_unix(1_800_000_000)
}

fn file() -> crate::files::FileView {
    crate::files::FileView {
        id: 7,
        name: "aftercare.pdf".into(),
        media_type: "application/pdf".into(),
        size: 1234,
        width: None,
        height: None,
        pages: Some(1),
    }
}

fn cid() -> ConversationId {
    ConversationId::new("c_1")
}

/// One of each patient frame. The match makes a new variant a compile
/// error here until it has a sample.
fn patient_samples() -> Vec<PatientFrame> {
    let all = vec![
        PatientFrame::Welcome {
            conversation: cid(),
            resume: "t".into(),
            text: "Hi".into(),
            files: true,
        },
        PatientFrame::History {
            messages: vec![HistoryItem {
                from: Sender::Bot,
                text: "Hi".into(),
                at: at(),
                name: None,
                file: Some(file()),
            }],
        },
        PatientFrame::message(Sender::Bot, "We open at 8.", at(), None),
        PatientFrame::Message {
            from: Sender::Clinician,
            text: "Hola".into(),
            at: at(),
            name: Some("Bella".into()),
            original: Some("Hello".into()),
            machine_translated: true,
            file: None,
        },
        PatientFrame::Message {
            from: Sender::Clinician,
            text: "📎 aftercare.pdf".into(),
            at: at(),
            name: Some("Bella".into()),
            original: None,
            machine_translated: false,
            file: Some(file()),
        },
        PatientFrame::Status(PatientStatus::Bot),
        PatientFrame::Status(PatientStatus::Queued {
            position: Some(1),
            urgent: false,
            wait_s: None,
        }),
        PatientFrame::Status(PatientStatus::Assigned {
            clinician: Some("Bella".into()),
        }),
        PatientFrame::Status(PatientStatus::Offline {
            contact_left: false,
        }),
        PatientFrame::Status(PatientStatus::Closed),
        PatientFrame::Consent(crate::consent::Consent {
            version: "0123456789abcdef".into(),
            text: "You are chatting with an automated assistant.".into(),
            privacy_url: Some("https://maple.test/privacy".into()),
            language: "en".into(),
        }),
        PatientFrame::ConsentAccepted,
        PatientFrame::Ack {
            id: store::MessageId(7),
            at: at(),
            reference: Some("m1".into()),
        },
        PatientFrame::Intake {
            fields: vec![
                crate::intake::Field::Name,
                crate::intake::Field::DateOfBirth,
            ],
        },
        PatientFrame::IntakeSaved,
        PatientFrame::Error {
            code: "busy".into(),
            message: "try again".into(),
        },
        PatientFrame::Transcript {
            filename: "chat-transcript-2026-12-06.html".into(),
            html: "<!doctype html>".into(),
        },
    ];
    for f in &all {
        match f {
            PatientFrame::Welcome { .. }
            | PatientFrame::History { .. }
            | PatientFrame::Message { .. }
            | PatientFrame::Status(_)
            | PatientFrame::Consent(_)
            | PatientFrame::ConsentAccepted
            | PatientFrame::Ack { .. }
            | PatientFrame::Intake { .. }
            | PatientFrame::IntakeSaved
            | PatientFrame::Error { .. }
            | PatientFrame::Transcript { .. } => {}
        }
    }
    all
}

fn summary() -> Summary {
    Summary {
        id: cid(),
        state: ConvState::Queued,
        urgent: false,
        language: Some("en".into()),
        assigned_to: None,
        assigned_name: None,
        created_at: at(),
        updated_at: at(),
        position: Some(1),
        offline: false,
        offered_to: None,
        wait_s: None,
        whisper: None,
    }
}

fn clinician_samples() -> Vec<ClinicianFrame> {
    let user = UserView {
        id: UserId(1),
        username: "bella".into(),
        display_name: "Bella".into(),
        role: Role::Clinician,
        status: Presence::Available,
        skills: vec![],
        languages: vec!["en".into()],
    };
    let message = MessageView {
        id: MessageId(1),
        from: Sender::Patient,
        text: "hi".into(),
        at: at(),
        name: None,
        intent: None,
        confidence: None,
        translation: None,
        original: None,
        masked: false,
        file: Some(file()),
    };
    let all = vec![
        ClinicianFrame::Hello { user },
        ClinicianFrame::Queue {
            conversations: vec![summary()],
        },
        ClinicianFrame::Message {
            conversation: cid(),
            message,
        },
        ClinicianFrame::Assigned {
            conversation: cid(),
        },
        ClinicianFrame::Offer {
            conversation: cid(),
            expires_in_s: 30,
        },
        ClinicianFrame::OfferExpired {
            conversation: cid(),
        },
        ClinicianFrame::LeftMessage {
            conversation: cid(),
        },
        ClinicianFrame::Held {
            conversation: cid(),
        },
        ClinicianFrame::Transfer {
            conversation: cid(),
            from: "Bella".into(),
            note: None,
        },
        ClinicianFrame::TeamMessage {
            message: TeamMessageView {
                id: StaffTextId(1),
                from: UserId(1),
                to: UserId(2),
                name: "Bella".into(),
                text: "hi".into(),
                at: at(),
            },
        },
        ClinicianFrame::BreakGlass {
            conversation: cid(),
            by: "Nate".into(),
            reason: "covering for Bella".into(),
        },
    ];
    for f in &all {
        match f {
            ClinicianFrame::Hello { .. }
            | ClinicianFrame::Queue { .. }
            | ClinicianFrame::Message { .. }
            | ClinicianFrame::Assigned { .. }
            | ClinicianFrame::Offer { .. }
            | ClinicianFrame::OfferExpired { .. }
            | ClinicianFrame::LeftMessage { .. }
            | ClinicianFrame::Held { .. }
            | ClinicianFrame::Transfer { .. }
            | ClinicianFrame::TeamMessage { .. }
            | ClinicianFrame::BreakGlass { .. } => {}
        }
    }
    all
}

fn json(frames: Vec<impl serde::Serialize>) -> Vec<Value> {
    frames
        .iter()
        .map(|f| serde_json::to_value(f).unwrap())
        .collect()
}

#[test]
fn the_patient_frames_are_the_documented_ones() {
    check("### Server to patient", json(patient_samples()));
}

#[test]
fn the_clinician_frames_are_the_documented_ones() {
    check(
        "## Clinician: `GET /ws/clinician`",
        json(clinician_samples()),
    );
}

#[test]
fn the_patient_input_frame_is_the_documented_one() {
    use crate::frames::PatientInput;
    let rows = table("### Patient to server");
    assert_eq!(
        rows.keys().collect::<Vec<_>>(),
        ["consent", "contact", "intake", "message", "transcript"]
    );
    let input: PatientInput =
        serde_json::from_str(r#"{"type":"intake","fields":{"name":"Ana"}}"#).unwrap();
    assert!(matches!(input, PatientInput::Intake { fields } if fields["name"] == "Ana"));
    let input: PatientInput =
        serde_json::from_str(r#"{"type":"consent","version":"0123456789abcdef"}"#).unwrap();
    assert!(matches!(input, PatientInput::Consent { version } if version == "0123456789abcdef"));
    assert_eq!(
        rows["consent"].keys,
        ["type", "version"]
            .map(String::from)
            .into_iter()
            .collect::<BTreeSet<_>>()
    );
    let input: PatientInput = serde_json::from_str(
        r#"{"type":"contact","channel":"sms","contact":"555 0102","best_time":"noon","question":"hi"}"#,
    )
    .unwrap();
    assert!(
        matches!(&input, PatientInput::Contact(c) if c.channel == crate::contact::Channel::Sms && c.best_time == "noon")
    );
    assert_eq!(
        rows["contact"].keys,
        ["type", "channel", "contact"]
            .map(String::from)
            .into_iter()
            .collect::<BTreeSet<_>>()
    );
    for optional in ["best_time", "question"] {
        assert!(rows["contact"].optional.contains(optional), "{optional}");
    }
    let input: PatientInput = serde_json::from_str(r#"{"type":"message","text":"hi"}"#).unwrap();
    assert!(matches!(input, PatientInput::Message { text, reference: None } if text == "hi"));
    let input: PatientInput =
        serde_json::from_str(r#"{"type":"message","text":"hi","ref":"m1"}"#).unwrap();
    assert!(matches!(input, PatientInput::Message { reference: Some(r), .. } if r == "m1"));
    assert_eq!(
        rows["message"].keys,
        BTreeSet::from(["type".to_string(), "text".to_string()])
    );
    assert!(rows["message"].optional.contains("ref"));
    let input: PatientInput = serde_json::from_str(r#"{"type":"transcript"}"#).unwrap();
    assert!(matches!(input, PatientInput::Transcript));
    assert_eq!(
        rows["transcript"].keys,
        BTreeSet::from(["type".to_string()])
    );
}

#[test]
fn the_key_reader_reads_top_level_keys_only() {
    assert_eq!(
        top_keys(r#"{"type":"history","messages":[{"from","text","at","name"?}...]}"#),
        BTreeSet::from(["type".into(), "messages".into()])
    );
    assert_eq!(
        top_keys(r#"{"type":"status","state":"bot"|"queued", ...}"#),
        BTreeSet::from(["type".into(), "state".into()])
    );
}
