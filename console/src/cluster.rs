//! Several nodes on one PostgreSQL database (docs/deploy.md, "Several
//! nodes"): this node's name, and what passes between the nodes through
//! PostgreSQL's `LISTEN`/`NOTIFY`:
//!
//! - `carechat_routing`: a new version of the shared routing state (the
//!   store announces it with the change); this node's copy follows
//!   ([`service::Service::routing_changed`]).
//! - `carechat_frames`: frames for sockets on another node (a clinician's
//!   reply to a patient connected elsewhere, an offer to a clinician on
//!   another node). Each is sealed (AES-256-GCM under a key derived from
//!   the server key every node shares), since a frame can carry a
//!   patient's words as typed and PostgreSQL may spill its notification
//!   queue to disk; sent in pieces of at most [`PIECE`] characters (a
//!   notification holds under 8,000 bytes) and put together again by the
//!   nodes that read it.
//!
//! A notification missed while the listening connection was down is
//! made up for where it matters: the routing state is read again on
//! reconnecting; a frame lost then is in the database, and the console and
//! the widget show it on their next load or reconnect.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use service::{Relay, Service, Target};
use store::SqlStore;
use tokio::sync::mpsc;

/// Where frames for other nodes go.
pub const FRAMES_CHANNEL: &str = "carechat_frames";

/// The longest piece of a sealed frame in one notification.
pub const PIECE: usize = 7000;

/// Frames waiting to go out before new ones are dropped (with a warning).
const WAITING: usize = 4096;

/// This node's name: the host, the process, and a random part (a restart
/// is a new node).
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    let mut random = [0u8; 3];
    getrandom::fill(&mut random).expect("the system's random source");
    format!("{host}-{}-{}", std::process::id(), hex::encode(random))
}

/// A frame on its way between nodes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    from: String,
    to: Target,
    frame: String,
}

/// Seals frames for the other nodes and queues them for [`send`].
pub struct PgRelay {
    node: String,
    key: [u8; 32],
    queue: mpsc::Sender<String>,
}

impl PgRelay {
    /// The relay, and the queue [`send`] drains.
    pub fn new(node: String, key: [u8; 32]) -> (PgRelay, mpsc::Receiver<String>) {
        let (queue, rx) = mpsc::channel(WAITING);
        (PgRelay { node, key, queue }, rx)
    }
}

impl Relay for PgRelay {
    fn relay(&self, to: Target, frame: String) {
        let envelope = Envelope {
            from: self.node.clone(),
            to,
            frame,
        };
        let plain = serde_json::to_vec(&envelope).expect("an envelope serializes");
        let sealed = store::envelope::seal_with(&self.key, FRAMES_CHANNEL.as_bytes(), &plain);
        let text = base64::engine::general_purpose::STANDARD.encode(sealed);
        if self.queue.try_send(text).is_err() {
            tracing::warn!("frames for other nodes are backed up: one was dropped");
        }
    }
}

/// Sends what [`PgRelay`] sealed, in order, each in pieces: `ID N OF PIECE`.
pub async fn send(store: Arc<SqlStore>, node: String, mut queue: mpsc::Receiver<String>) {
    let mut next: u64 = 0;
    while let Some(text) = queue.recv().await {
        next += 1;
        let pieces: Vec<&str> = text
            .as_bytes()
            .chunks(PIECE)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect();
        let id = format!("{node}/{next}");
        for (n, piece) in pieces.iter().enumerate() {
            let payload = format!("{id} {n} {} {piece}", pieces.len());
            if let Err(e) = store.notify(FRAMES_CHANNEL, &payload).await {
                tracing::warn!(error = %e, "a frame for another node was not sent");
                break;
            }
        }
    }
}

/// Puts pieces together again.
#[derive(Default)]
struct Pieces {
    partial: HashMap<String, (Instant, Vec<Option<String>>)>,
}

/// Pieces of one frame not all come within this long are dropped.
const PIECES_WAIT: Duration = Duration::from_secs(30);

impl Pieces {
    /// The whole text once its last piece came.
    fn add(&mut self, payload: &str) -> Option<String> {
        let mut parts = payload.splitn(4, ' ');
        let (id, n, of, piece) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let (n, of): (usize, usize) = (n.parse().ok()?, of.parse().ok()?);
        if of == 0 || n >= of || of > 64 {
            return None;
        }
        if of == 1 {
            return Some(piece.to_string());
        }
        let now = Instant::now();
        self.partial
            .retain(|_, (since, _)| now.duration_since(*since) < PIECES_WAIT);
        let entry = self
            .partial
            .entry(id.to_string())
            .or_insert_with(|| (now, vec![None; of]));
        if entry.1.len() != of {
            return None;
        }
        entry.1[n] = Some(piece.to_string());
        if entry.1.iter().all(Option::is_some) {
            let (_, pieces) = self.partial.remove(id)?;
            return Some(pieces.into_iter().flatten().collect());
        }
        None
    }
}

/// Listens for the other nodes: routing changes and frames for sockets
/// here, for as long as the server runs (reconnecting, and then reading
/// the routing state again, when the connection drops).
pub async fn listen(url: String, service: Arc<Service>, key: [u8; 32]) {
    let node = service.node().unwrap_or_default().to_string();
    let mut pieces = Pieces::default();
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "listening for the other nodes: retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener
            .listen_all([store::ROUTING_CHANNEL, FRAMES_CHANNEL])
            .await
        {
            tracing::warn!(error = %e, "listening for the other nodes: retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Whatever changed while nobody listened.
        service.routing_changed(i64::MAX).await;
        loop {
            let n = match listener.try_recv().await {
                Ok(Some(n)) => n,
                // The connection dropped: sqlx reconnects on the next
                // call; what was missed is read again.
                Ok(None) => {
                    service.routing_changed(i64::MAX).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for the other nodes");
                    break;
                }
            };
            if n.channel() == store::ROUTING_CHANNEL {
                if let Ok(version) = n.payload().parse() {
                    service.routing_changed(version).await;
                }
                continue;
            }
            let Some(text) = pieces.add(n.payload()) else {
                continue;
            };
            match open(&key, &text) {
                Some(envelope) if envelope.from != node => {
                    service.hub.deliver(&envelope.to, envelope.frame)
                }
                Some(_) => {}
                None => tracing::warn!("a frame from another node did not open"),
            }
        }
    }
}

fn open(key: &[u8; 32], text: &str) -> Option<Envelope> {
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let plain = store::envelope::open_with(key, FRAMES_CHANNEL.as_bytes(), &sealed).ok()?;
    serde_json::from_slice(&plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_in_pieces_comes_back_whole_and_sealed() {
        let key = [9; 32];
        let (relay, mut rx) = PgRelay::new("a".into(), key);
        let long = "é".repeat(9000);
        relay.relay(
            Target::Patient(store::ConversationId::new("c1")),
            long.clone(),
        );
        let text = rx.try_recv().unwrap();
        assert!(!text.contains('é'), "sealed");
        let chunks: Vec<&str> = text
            .as_bytes()
            .chunks(PIECE)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        assert!(chunks.len() > 2);
        let mut pieces = Pieces::default();
        // Out of order, as two connections may deliver them.
        let mut whole = None;
        for n in (0..chunks.len()).rev() {
            let payload = format!("a/1 {n} {} {}", chunks.len(), chunks[n]);
            assert!(payload.len() < 8000);
            whole = pieces.add(&payload);
            if n > 0 {
                assert!(whole.is_none());
            }
        }
        let envelope = open(&key, &whole.unwrap()).unwrap();
        assert_eq!(envelope.frame, long);
        assert_eq!(
            envelope.to,
            Target::Patient(store::ConversationId::new("c1"))
        );
        // Another key opens nothing.
        assert!(open(&[8; 32], &text).is_none());
        assert!(pieces.add("x 3 2 abc").is_none(), "a piece past the count");
    }
}
