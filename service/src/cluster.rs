//! Several nodes, one clinic (PostgreSQL; docs/deploy.md, "Several
//! nodes"). Each node keeps its own sockets, its own bot and its own copy
//! of the router; what the router decides is shared through the database:
//!
//! - **One router, changed in turn.** The router's whole state (a serde
//!   value), with the consoles each node has open, is one document in the
//!   database. An operation that may change it ([`Service::routed`]: a
//!   chat escalated, taken, offered, transferred, closed; a clinician
//!   coming, going or changing status; the time-driven rules) first takes
//!   the routing lease, a transaction-scoped advisory lock every node
//!   waits on ([`store::Coordination`]), brings this node's copy up to
//!   date when another node changed it, runs, and stores the state again
//!   when it changed. So every decision is taken on the state every node
//!   left, one at a time: no chat is handed to two clinicians, none is
//!   lost between nodes. Nested operations run under the lease already
//!   held (a task-local mark).
//! - **Told at once.** A stored change is announced to the other nodes
//!   (PostgreSQL `NOTIFY`, by the store); each brings its copy up to date
//!   and sends its own consoles and waiting patients their new view
//!   ([`Service::routing_changed`]).
//! - **A node that dies.** Each node records that it is alive every
//!   [`HEARTBEAT_MS`]; one not seen for [`GONE_AFTER_MS`] is gone: the
//!   consoles it held are forgotten, and a clinician with no console left
//!   anywhere who was available becomes away, as when their last console
//!   closes; their chats stay theirs until they reconnect (docs/deploy.md).
//!   Its patients reconnect to another node with their resume token.
//!
//! On SQLite (one process) there is no cluster: the router lives in memory
//! only and none of this runs.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use router::Presence;
use serde::{Deserialize, Serialize};
use store::{Coordination, Timestamp, User, UserId};

use crate::{Service, ServiceError, ServiceResult};

/// How often a node records that it is alive.
pub const HEARTBEAT_MS: u64 = 2_000;

/// How long a node may go unseen before the others count it gone.
pub const GONE_AFTER_MS: u64 = 10_000;

/// Consoles open per clinician (user id), per node.
type Consoles = BTreeMap<i64, BTreeMap<String, u32>>;

/// What the nodes share: the router, and which node holds which consoles.
#[derive(Deserialize)]
struct Shared {
    router: router::Router,
    #[serde(default)]
    consoles: Consoles,
}

#[derive(Serialize)]
struct SharedRef<'a> {
    router: &'a router::Router,
    consoles: &'a Consoles,
}

/// This node's part in a cluster.
pub struct Cluster {
    coordination: Arc<dyn Coordination>,
    /// This node's name, unique to the process.
    pub node: String,
    /// Held while this node has the lease or brings its copy up to date:
    /// the version of the shared state its copy is of (-1: unknown, read
    /// it again).
    turn: tokio::sync::Mutex<i64>,
    consoles: Mutex<Consoles>,
    /// When this node last recorded that it is alive (service clock, ms).
    seen: Mutex<Option<u64>>,
    /// Whether this node runs the clinic-wide chores (below).
    leading: std::sync::atomic::AtomicBool,
}

tokio::task_local! {
    /// Set while the current task holds the routing lease.
    static LEASED: ();
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cluster {
    fn shared_json(&self, service: &Service) -> String {
        let router = service.hub.router();
        let consoles = lock(&self.consoles);
        serde_json::to_string(&SharedRef {
            router: &router,
            consoles: &consoles,
        })
        .expect("the routing state serializes")
    }

    fn adopt(&self, service: &Service, state: &str) -> ServiceResult<()> {
        let shared: Shared = serde_json::from_str(state).map_err(|e| {
            ServiceError::Internal(anyhow::anyhow!("the stored routing state: {e}"))
        })?;
        *service.hub.router() = shared.router;
        *lock(&self.consoles) = shared.consoles;
        Ok(())
    }
}

impl Service {
    /// One node of several sharing `coordination`'s database, named `node`.
    pub fn with_cluster(mut self, coordination: Arc<dyn Coordination>, node: String) -> Service {
        self.cluster = Some(Cluster {
            coordination,
            node,
            turn: tokio::sync::Mutex::new(-1),
            consoles: Mutex::default(),
            seen: Mutex::default(),
            leading: Default::default(),
        });
        self
    }

    /// Whether this node runs the chores done once for the clinic, not
    /// once per node: staff emails, Web Push, retention, transcript
    /// deliveries. Always on one node; in a cluster, the live node whose
    /// name sorts first (known from the first heartbeat on).
    pub fn leads(&self) -> bool {
        self.cluster
            .as_ref()
            .is_none_or(|c| c.leading.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// This node's name, in a cluster.
    pub fn node(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.node.as_str())
    }

    /// Runs `op`, which may change the router, holding the routing lease
    /// (see the module's doc); on one node, just runs it.
    pub(crate) async fn routed<T>(
        &self,
        op: impl Future<Output = ServiceResult<T>>,
    ) -> ServiceResult<T> {
        let Some(cluster) = &self.cluster else {
            return op.await;
        };
        if LEASED.try_with(|_| ()).is_ok() {
            return op.await;
        }
        let mut known = cluster.turn.lock().await;
        let leased = cluster.coordination.lease_routing(*known).await?;
        if let Some(state) = &leased.state {
            cluster.adopt(self, state)?;
        }
        // Unknown until stored: an operation that fails half-way (or a
        // panic) leaves this node reading the shared state again.
        *known = -1;
        let before = cluster.shared_json(self);
        let out = LEASED.scope((), op).await;
        let after = cluster.shared_json(self);
        match leased
            .lease
            .release((after != before).then_some(after))
            .await
        {
            Ok(version) => *known = version,
            Err(e) => tracing::error!(error = %e, "storing the routing state"),
        }
        out
    }

    /// Another node stored routing state `version`: this node's copy
    /// follows, and its consoles and waiting patients get their new view.
    pub async fn routing_changed(&self, version: i64) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        {
            let mut known = cluster.turn.lock().await;
            if *known >= version {
                return;
            }
            match cluster.coordination.routing_state().await {
                Ok(Some((stored, state))) => match cluster.adopt(self, &state) {
                    Ok(()) => *known = stored,
                    Err(e) => tracing::error!(error = %e, "reading the routing state"),
                },
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "reading the routing state"),
            }
        }
        self.broadcast_queue().await;
    }

    /// Whether the shared routing state was ever stored (a node starting
    /// after another takes it as it is instead of rebuilding it).
    pub(crate) async fn routing_stored(&self) -> ServiceResult<bool> {
        match &self.cluster {
            Some(cluster) => Ok(cluster.coordination.routing_state().await?.is_some()),
            None => Ok(false),
        }
    }

    /// A console of `user` opened on this node (under the lease).
    pub(crate) fn console_opened(&self, user: UserId) {
        if let Some(cluster) = &self.cluster {
            *lock(&cluster.consoles)
                .entry(user.0)
                .or_default()
                .entry(cluster.node.clone())
                .or_default() += 1;
        }
    }

    /// A console of `user` closed on this node (under the lease): whether
    /// it was their last, here and on every other node.
    pub(crate) fn console_closed(&self, user: UserId, last_here: bool) -> bool {
        let Some(cluster) = &self.cluster else {
            return last_here;
        };
        let mut consoles = lock(&cluster.consoles);
        let Some(nodes) = consoles.get_mut(&user.0) else {
            return true;
        };
        if let Some(n) = nodes.get_mut(&cluster.node) {
            *n = n.saturating_sub(1);
            if *n == 0 || last_here {
                nodes.remove(&cluster.node);
            }
        }
        let last = nodes.is_empty();
        if last {
            consoles.remove(&user.0);
        }
        last
    }

    /// The clinicians with a console open: on this node, or on any node
    /// of a cluster.
    pub fn clinicians_online(&self) -> Vec<UserId> {
        match &self.cluster {
            Some(cluster) => lock(&cluster.consoles)
                .keys()
                .map(|&id| UserId(id))
                .collect(),
            None => self.hub.online_clinicians(),
        }
    }

    /// Records that this node is alive, and lets go of nodes gone
    /// ([`GONE_AFTER_MS`]): their consoles are forgotten, and their
    /// clinicians with no console left anywhere become away.
    pub(crate) async fn cluster_tick(&self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let now = self.now_ms();
        let due = lock(&cluster.seen).is_none_or(|seen| now >= seen + HEARTBEAT_MS);
        if !due {
            return;
        }
        let at = Timestamp::from_unix((now / 1000) as i64);
        if let Err(e) = cluster.coordination.node_seen(&cluster.node, at).await {
            tracing::error!(error = %e, "recording this node as alive");
            return;
        }
        *lock(&cluster.seen) = Some(now);
        let nodes = match cluster.coordination.nodes().await {
            Ok(nodes) => nodes,
            Err(e) => {
                tracing::error!(error = %e, "reading the nodes");
                return;
            }
        };
        let alive = |(id, seen): &(String, Timestamp)| {
            *id == cluster.node || (seen.unix().max(0) as u64) * 1000 + GONE_AFTER_MS >= now
        };
        let first_alive = nodes.iter().filter(|n| alive(n)).map(|(id, _)| id).min();
        cluster.leading.store(
            first_alive.is_none_or(|id| *id == cluster.node),
            std::sync::atomic::Ordering::Relaxed,
        );
        let gone: Vec<String> = nodes
            .iter()
            .filter(|n| !alive(n))
            .map(|(id, _)| id.clone())
            .collect();
        if gone.is_empty() {
            return;
        }
        let result = self
            .routed(async {
                let mut orphaned = Vec::new();
                {
                    let mut consoles = lock(&cluster.consoles);
                    for (user, nodes) in consoles.iter_mut() {
                        let before = nodes.len();
                        nodes.retain(|node, _| !gone.contains(node));
                        if before > 0 && nodes.is_empty() {
                            orphaned.push(UserId(*user));
                        }
                    }
                    consoles.retain(|_, nodes| !nodes.is_empty());
                }
                for user in orphaned {
                    if let Ok(user) = self.store.user(user).await {
                        self.away_if_available(&user).await;
                    }
                }
                for node in &gone {
                    tracing::warn!(
                        node = node.as_str(),
                        "a node is gone: its consoles are let go"
                    );
                    cluster.coordination.forget_node(node).await?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "letting go of a gone node");
        }
    }

    /// An available clinician with no console left becomes away: nobody
    /// is watching for new chats.
    pub(crate) async fn away_if_available(&self, user: &User) {
        let available = self
            .hub
            .router()
            .clinician(user.id.0)
            .is_some_and(|c| c.presence() == Presence::Available);
        if available {
            let _ = self.set_presence(user, Presence::Away).await;
        }
    }
}
