//! `carechat-lab bench load`: what idle patients cost a running server, and
//! what they do to the active ones' replies.
//!
//! Against a `carechat serve` started apart (its per-address limits raised:
//! every socket here comes from the loopback address), in one run:
//!
//! 1. `active` patients at once each open `messages` chats one after the
//!    other, and time the question in each from sending to the bot's
//!    answer (a fresh question each time, so no cached embedding answers
//!    it): the median and p99 with no idle socket open;
//! 2. idle patient sockets are opened (connected, welcomed, nothing more),
//!    from several loopback source addresses so that one address's
//!    ephemeral ports do not run out, up to each level asked;
//! 3. at each level the server's resident memory (`VmRSS` of `--pid`) is
//!    read, and the active patients' round is run again.
//!
//! The table: idle sockets, the server's RSS, the memory each idle socket
//! added (over the level with none), the active replies' median and p99,
//! and the p99 over the first round's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// What to run.
pub struct LoadOptions {
    /// The server's address, `127.0.0.1:PORT`.
    pub server: SocketAddr,
    /// The server's process, for its memory.
    pub pid: u32,
    /// Idle sockets at each level, ascending (0 is always measured first).
    pub idle: Vec<usize>,
    pub active: usize,
    pub messages: usize,
    /// Loopback source addresses to spread the sockets over (127.0.0.1..).
    pub sources: u8,
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

/// A patient's socket from source address `source`, welcomed: its frames
/// up to the first `status`.
async fn open(server: SocketAddr, source: u8) -> anyhow::Result<(Socket, Vec<Value>)> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, source], 0)))?;
    let stream = socket.connect(server).await?;
    // The client's own buffers small: tens of thousands of them here.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(
        format!("ws://{server}/ws/patient?lang=en"),
        stream,
        Some(config),
    )
    .await?;
    let mut frames = Vec::new();
    loop {
        let frame = next(&mut ws).await?;
        let done = frame["type"] == "status";
        frames.push(frame);
        if done {
            return Ok((ws, frames));
        }
    }
}

async fn next(ws: &mut Socket) -> anyhow::Result<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .context("no frame in 60 s")?
        {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t)?),
            Some(Ok(Message::Close(c))) => anyhow::bail!("the server closed the socket: {c:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("the socket ended"),
        }
    }
}

/// One active patient: `messages` times, a new chat (connected, consent
/// accepted) and one question in it; each reply's time in milliseconds,
/// from sending to the first answer (the bot's, or its hand-over to the
/// team: a chat the bot handed over gets no second answer, so each
/// question opens its own).
async fn active_patient(
    server: SocketAddr,
    source: u8,
    who: usize,
    round: usize,
    messages: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::with_capacity(messages);
    for i in 0..messages {
        let (mut ws, frames) = open(server, source).await?;
        if let Some(consent) = frames.iter().find(|f| f["type"] == "consent") {
            ws.send(Message::Text(
                json!({"type": "consent", "version": consent["version"]})
                    .to_string()
                    .into(),
            ))
            .await?;
            loop {
                let f = next(&mut ws)
                    .await
                    .with_context(|| format!("waiting for consent_accepted after {frames:?}"))?;
                if f["type"] == "consent_accepted" {
                    break;
                }
            }
        }
        // A fresh question each time, so no cached embedding answers it.
        let text = format!("What time do you open on day {i} of week {round}, patient {who}?");
        let start = Instant::now();
        ws.send(Message::Text(
            json!({"type": "message", "text": text}).to_string().into(),
        ))
        .await?;
        let mut seen = Vec::new();
        loop {
            let f = next(&mut ws)
                .await
                .with_context(|| format!("waiting for a reply; got {seen:?}"))?;
            if f["type"] == "message" && f["from"] != "patient" {
                break;
            }
            anyhow::ensure!(f["type"] != "error", "the server refused a message: {f}");
            seen.push(f);
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let _ = ws.close(None).await;
    }
    Ok(times)
}

/// A round of the active patients, at once: every reply's time, sorted.
async fn round(o: &LoadOptions, round: usize) -> anyhow::Result<Vec<f64>> {
    let tasks: Vec<_> = (0..o.active)
        .map(|who| {
            let source = 1 + (who % o.sources as usize) as u8;
            tokio::spawn(active_patient(o.server, source, who, round, o.messages))
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by(f64::total_cmp);
    Ok(all)
}

pub async fn bench_load(o: LoadOptions) -> anyhow::Result<()> {
    anyhow::ensure!(o.sources >= 1, "--sources is at least 1");
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    let most = o.idle.iter().copied().max().unwrap_or(0);
    anyhow::ensure!(
        (most + o.active + 64) as u64 <= limit,
        "{most} sockets need more open files than this process may have ({limit})"
    );
    let mut levels = vec![0];
    levels.extend(o.idle.iter().copied().filter(|&n| n > 0));
    levels.sort_unstable();
    levels.dedup();
    let mut idle: Vec<Socket> = Vec::with_capacity(most);
    let mut rows = Vec::new();
    let mut base_rss = 0u64;
    let mut base_p99 = 0.0;
    for (i, level) in levels.iter().copied().enumerate() {
        // Up to the level, a few hundred at a time.
        while idle.len() < level {
            let want = (level - idle.len()).min(256);
            let start = idle.len();
            let opened = futures_util::future::join_all((0..want).map(|k| {
                let source = 1 + ((start + k) % o.sources as usize) as u8;
                open(o.server, source)
            }))
            .await;
            for socket in opened {
                idle.push(socket?.0);
            }
        }
        // Let the server settle (allocator, its tickers) before reading.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss = rss_kib(o.pid)?;
        let times = round(&o, i).await?;
        let p50 = crate::bench::percentile(&times, 0.5);
        let p99 = crate::bench::percentile(&times, 0.99);
        if level == 0 {
            base_rss = rss;
            base_p99 = p99;
        }
        let per_socket = (level > 0).then(|| (rss.saturating_sub(base_rss)) as f64 / level as f64);
        println!(
            "idle {level:>6}: RSS {:>8.1} MiB{}, active p50 {p50:.1} ms, p99 {p99:.1} ms ({:.2}× the p99 with none)",
            rss as f64 / 1024.0,
            per_socket
                .map(|k| format!(", {k:.1} KiB per idle socket"))
                .unwrap_or_default(),
            p99 / base_p99
        );
        rows.push(json!({
            "idle": level,
            "rss_kib": rss,
            "kib_per_idle_socket": per_socket,
            "active_replies": times.len(),
            "p50_ms": p50,
            "p99_ms": p99,
            "p99_ratio": p99 / base_p99,
        }));
    }
    println!("{}", serde_json::to_string(&json!({ "levels": rows }))?);
    Ok(())
}
