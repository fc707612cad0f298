//! The patient's WebSocket: one conversation per socket, resumable.

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use bot_engine::Messages;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::hub::OUTBOUND;
use super::moderation::{ClientAddr, Identity};
use super::{ApiError, Shared};
use crate::auth::{new_token, token_hash};
use crate::store::{ConvState, NewConversation, StoreError};

#[derive(Deserialize)]
pub struct PatientQuery {
    lang: Option<String>,
    resume: Option<String>,
    /// The widget's random browser id (see [`super::moderation`]).
    fp: Option<String>,
    /// The state the clinic's site serves (`data-state`), for licensing.
    state: Option<String>,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

pub async fn ws(
    ws: WebSocketUpgrade,
    Query(q): Query<PatientQuery>,
    State(s): State<Shared>,
    ClientAddr(addr): ClientAddr,
) -> Response {
    let who = s.identity(q.fp.as_deref(), addr);
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| session(s, socket, q, who))
}

/// Deregisters the socket however the session ends.
struct Registration<'a> {
    state: &'a Shared,
    conversation: String,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.state.hub.remove_patient(&self.conversation, self.id);
    }
}

fn error_frame(e: &ApiError) -> serde_json::Value {
    let code = match e {
        ApiError::Forbidden(BLOCKED) => "sender_blocked",
        ApiError::BadRequest(_) => "bad_frame",
        ApiError::Conflict(_) => "closed",
        e => e.code(),
    };
    json!({"type": "error", "code": code, "message": e.to_string()})
}

const BLOCKED: &str = "blocked";

/// The conversation, its resume token, and whether it was resumed. A blocked
/// browser or address gets neither a new conversation nor an old one back.
async fn open(
    s: &Shared,
    q: &PatientQuery,
    who: &Identity,
) -> Result<(crate::store::Conversation, String, bool), ApiError> {
    if s.blocked(who).await? {
        return Err(ApiError::Forbidden(BLOCKED));
    }
    if let Some(token) = q.resume.as_deref().filter(|t| t.len() == 64) {
        match s.store.conversation_by_resume(&token_hash(token)).await {
            Ok(c) => {
                let theirs = Identity {
                    fingerprint: c.fingerprint.clone(),
                    address: c.address.clone(),
                };
                if s.blocked(&theirs).await? {
                    return Err(ApiError::Forbidden(BLOCKED));
                }
                return Ok((c, token.to_string(), true));
            }
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let id = format!("c_{}", &new_token().0[..20]);
    let resume = new_token();
    let lang = q
        .lang
        .as_deref()
        .map(|l| l.chars().take(35).collect::<String>());
    let c = s
        .store
        .create_conversation(NewConversation {
            id,
            resume_hash: token_hash(&resume.0),
            browser_language: lang,
            fingerprint: who.fingerprint.clone(),
            address: who.address.clone(),
            license_state: q.state.clone().filter(|s| super::is_state(s)),
        })
        .await?;
    Ok((c, resume.0, false))
}

async fn session(s: Shared, socket: WebSocket, q: PatientQuery, who: Identity) {
    let (mut sink, mut stream) = socket.split();
    let (conv, resume, resumed) = match open(&s, &q, &who).await {
        Ok(x) => x,
        Err(e) => {
            let mut frame = error_frame(&e);
            if matches!(e, ApiError::Forbidden(BLOCKED)) {
                let language = q
                    .lang
                    .as_deref()
                    .and_then(bot_engine::primary_subtag)
                    .unwrap_or_else(|| "en".into());
                frame["message"] = json!(Messages::render(
                    &s.whitelist.messages.blocked,
                    &language,
                    &[]
                ));
            }
            let _ = sink.send(WsMessage::Text(frame.to_string().into())).await;
            let _ = sink.send(WsMessage::Close(None)).await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel::<String>(OUTBOUND);
    let _registration = Registration {
        state: &s,
        conversation: conv.id.clone(),
        id: s.hub.add_patient(&conv.id, tx.clone()),
    };
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(WsMessage::Text(frame.into())).await.is_err() {
                break;
            }
        }
    });
    let language = conv
        .language
        .clone()
        .or_else(|| {
            conv.browser_language
                .as_deref()
                .and_then(bot_engine::primary_subtag)
        })
        .unwrap_or_else(|| "en".into());
    let welcome = Messages::render(&s.whitelist.messages.welcome, &language, &[]);
    let _ = tx
        .send(
            json!({"type": "welcome", "conversation": conv.id, "resume": resume, "text": welcome})
                .to_string(),
        )
        .await;
    if resumed {
        // A reload must not lose the thread. What is replayed is what was
        // stored: redacted.
        let mut messages = Vec::new();
        if let Ok(stored) = s.store.messages(&conv.id).await {
            for m in &stored {
                let v = s.message_view(m).await;
                messages.push(json!({"from": v.from, "text": v.text, "at": v.at, "name": v.name}));
            }
        }
        let _ = tx
            .send(json!({"type": "history", "messages": messages}).to_string())
            .await;
    }
    let status = match conv.state {
        ConvState::Bot => json!({"type": "status", "state": "bot"}),
        ConvState::Queued if conv.offline => json!({"type": "status", "state": "offline"}),
        ConvState::Queued => {
            let position = s.hub.router().position(&conv.id);
            json!({"type": "status", "state": "queued", "position": position,
                "urgent": conv.urgent, "wait_s": s.wait_s(&conv.id)})
        }
        ConvState::Assigned => json!({"type": "status", "state": "assigned",
            "clinician": s.summary(&conv).await.assigned_name}),
        ConvState::Closed => json!({"type": "status", "state": "closed"}),
    };
    let _ = tx.send(status.to_string()).await;
    // Frames are handled one at a time, so replies keep the patient's order.
    while let Some(Ok(msg)) = stream.next().await {
        let text = match msg {
            WsMessage::Text(t) => t,
            WsMessage::Close(_) => break,
            _ => continue,
        };
        let frame: Result<Frame, _> = serde_json::from_str(&text);
        let result = match frame {
            Ok(Frame {
                kind,
                text: Some(body),
            }) if kind == "message" => s.patient_message(&conv.id, &body).await,
            _ => Err(ApiError::BadRequest(
                "expected {\"type\":\"message\",\"text\":...}".into(),
            )),
        };
        if let Err(e) = result {
            if let ApiError::Internal(inner) = &e {
                tracing::error!(error = %format!("{inner:#}"), "patient message failed");
            }
            let _ = tx.send(error_frame(&e).to_string()).await;
        }
    }
    writer.abort();
}
