//! The patient's WebSocket: one conversation per socket, resumable. The
//! conversation core ([`service::Service::open_patient`]) decides what the
//! socket gets; this pumps frames both ways.

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use service::frames::{PatientFrame, PatientInput};
use service::{Identity, OpenRequest, ServiceError, encode};

use super::Shared;
use super::identity::ClientAddr;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatientQuery {
    lang: Option<String>,
    resume: Option<String>,
    /// The widget's random browser id (see [`super::identity`]).
    fp: Option<String>,
    /// The state the clinic's site serves (`data-state`), for licensing.
    state: Option<String>,
}

#[utoipa::path(operation_id = "patient_ws", get, path = "/ws/patient", tag = "sockets", params(PatientQuery), security(()), responses((status = 101, description = "The patient's WebSocket (frames: docs/protocol.md)"), (status = 400, description = "Not a WebSocket upgrade")))]
pub async fn ws(
    ws: WebSocketUpgrade,
    Query(q): Query<PatientQuery>,
    State(s): State<Shared>,
    ClientAddr(addr): ClientAddr,
) -> Response {
    let who = s.identity(q.fp.as_deref(), addr);
    ws.max_message_size(64 * 1024)
        .read_buffer_size(super::SOCKET_READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| session(s, socket, q, who))
}

/// The `error` frame for a message that could not be handled.
fn error_frame(e: &ServiceError) -> PatientFrame {
    let code = match e {
        ServiceError::SenderBlocked => "sender_blocked",
        ServiceError::BadRequest(_) => "bad_frame",
        ServiceError::Conflict(_) => "closed",
        e => e.code(),
    };
    PatientFrame::Error {
        code: code.into(),
        message: e.to_string(),
    }
}

async fn session(s: Shared, socket: WebSocket, q: PatientQuery, who: Identity) {
    let _held = s.drain.hold();
    let (mut sink, mut stream) = socket.split();
    let address = who.address.clone();
    let request = OpenRequest {
        lang: q.lang,
        resume: q.resume,
        state: q.state,
    };
    let (patient, rx) = match s.service.open_patient(&request, &who).await {
        Ok(x) => x,
        Err(e) => {
            let frame = match e {
                ServiceError::SenderBlocked => PatientFrame::Error {
                    code: "sender_blocked".into(),
                    message: s.service.blocked_text(request.lang.as_deref()),
                },
                e => error_frame(&e),
            };
            let _ = sink.send(WsMessage::Text(encode(&frame).into())).await;
            let _ = sink.send(WsMessage::Close(None)).await;
            return;
        }
    };
    // On a shutdown the writer sends what is queued, then the close.
    let (close_tx, close_rx) = tokio::sync::oneshot::channel::<CloseFrame>();
    let mut writer = tokio::spawn(super::pump(sink, rx, close_rx));
    // Frames are handled one at a time, so replies keep the patient's order.
    // A shutdown is noticed between frames: the one in hand, and any that
    // already arrived, are handled first.
    let mut restarting = s.drain.is_started();
    loop {
        let next = if restarting {
            match stream.next().now_or_never() {
                Some(next) => next,
                None => break,
            }
        } else {
            tokio::select! {
                next = stream.next() => next,
                () = s.drain.started() => {
                    restarting = true;
                    continue;
                }
            }
        };
        let Some(Ok(msg)) = next else { break };
        let text = match msg {
            WsMessage::Text(t) => t,
            WsMessage::Close(_) => break,
            _ => continue,
        };
        // A form (contact details, intake): its refusals are the form's.
        let mut form = false;
        let result = match serde_json::from_str::<PatientInput>(&text) {
            Ok(PatientInput::Message {
                text: body,
                reference,
            }) => patient.message_ref(&body, reference.as_deref()).await,
            Ok(PatientInput::Transcript) => patient.transcript(address.clone()).await,
            Ok(PatientInput::Consent { version }) => patient.consent(&version).await,
            Ok(PatientInput::Intake { fields }) => {
                form = true;
                patient.intake(fields).await
            }
            Ok(PatientInput::Contact(details)) => {
                form = true;
                patient.contact(details).await
            }
            Err(_) => Err(ServiceError::BadRequest(
                "expected a message, transcript or contact frame (docs/protocol.md)".into(),
            )),
        };
        if let Err(e) = result {
            if let ServiceError::Internal(inner) = &e {
                tracing::error!(error = %format!("{inner:#}"), "patient message failed");
            }
            let frame = match &e {
                // A form's own mistakes, said as such: the chat goes on.
                ServiceError::BadRequest(_) | ServiceError::Conflict(_) if form => {
                    PatientFrame::Error {
                        code: "bad_form".into(),
                        message: e.to_string(),
                    }
                }
                _ => error_frame(&e),
            };
            patient.send(&frame).await;
        }
    }
    if restarting {
        let _ = close_tx.send(CloseFrame {
            code: super::RESTARTING,
            reason: "the server is restarting: reconnect".into(),
        });
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut writer).await;
    }
    writer.abort();
}
