//! `carechat-lab bench seal`: what sealing the words as typed costs a
//! message on its way to the disk, and a conversation's read.
//!
//! Two real stores on files in a scratch directory, as the server opens
//! them (WAL, `synchronous = NORMAL`, `secure_delete`): one with a vault,
//! whose messages carry an original to seal (a data key made for each new
//! conversation, then one AES-256-GCM seal per message), and one without,
//! whose messages carry none. Rounds alternate between the two so drift in
//! the machine falls on both; each figure is the median of the rounds.

use std::time::Instant;

use serde_json::json;
use store::envelope::{Keyring, MasterKey};
use store::{
    AuditKey, ConversationId, Conversations, NewConversation, NewMessage, Sender, SqlStore,
};

/// What a patient might type (its redacted copy beside it).
const TYPED: &str = "Hi, my name is Maria Lopez, born 03/14/1961, my card ending 4111 1111 1111 1111 \
                     was charged twice for the visit on Monday, call me at 555-867-5309";
const REDACTED: &str = "Hi, my name is [NAME], born [DATE], my card ending [CARD] was charged twice \
                        for the visit on Monday, call me at [PHONE]";

struct Round {
    /// Microseconds per message written.
    write_us: Vec<f64>,
    /// Microseconds per conversation's originals read.
    read_us: Vec<f64>,
}

async fn round(
    store: &SqlStore,
    sealed: bool,
    tag: &str,
    conversations: usize,
    per: usize,
) -> anyhow::Result<Round> {
    let mut write_us = Vec::new();
    let mut ids = Vec::new();
    for c in 0..conversations {
        let id = ConversationId::new(format!("{tag}-{c}"));
        store
            .create_conversation(NewConversation::new(id.clone(), format!("{tag}-{c}")))
            .await?;
        for _ in 0..per {
            let mut m = NewMessage::plain(id.clone(), Sender::Patient, None, REDACTED.to_string());
            if sealed {
                m.original = Some(TYPED.to_string());
            }
            let started = Instant::now();
            store.add_message(m).await?;
            write_us.push(started.elapsed().as_secs_f64() * 1e6);
        }
        ids.push(id);
    }
    let mut read_us = Vec::new();
    for id in &ids {
        let started = Instant::now();
        let messages = store.messages(id).await?;
        let originals = store.originals(id).await?;
        std::hint::black_box((messages, originals));
        read_us.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(Round { write_us, read_us })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    crate::bench::percentile(v, 0.5)
}

fn p99(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    crate::bench::percentile(v, 0.99)
}

pub async fn bench_seal(rounds: usize, conversations: usize, per: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = |name: &str| format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
    let keyring = Keyring::new(vec![MasterKey::random()]).expect("one key");
    let vaulted =
        SqlStore::open_with_vault(&url("sealed.db"), AuditKey::new([1; 32]), keyring).await?;
    let plain = SqlStore::open(&url("plain.db"), AuditKey::new([1; 32])).await?;
    let (mut sealed_rounds, mut plain_rounds) = (Vec::new(), Vec::new());
    for r in 0..rounds.max(1) {
        // Alternate which goes first.
        let order = if r % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for sealed in order {
            let (store, out) = if sealed {
                (&vaulted, &mut sealed_rounds)
            } else {
                (&plain, &mut plain_rounds)
            };
            out.push(round(store, sealed, &format!("r{r}"), conversations, per).await?);
        }
    }
    let summary = |rounds: &mut Vec<Round>| {
        let mut write_p50: Vec<f64> = rounds.iter_mut().map(|r| median(&mut r.write_us)).collect();
        let mut write_p99: Vec<f64> = rounds.iter_mut().map(|r| p99(&mut r.write_us)).collect();
        let mut read_p50: Vec<f64> = rounds.iter_mut().map(|r| median(&mut r.read_us)).collect();
        (
            median(&mut write_p50),
            median(&mut write_p99),
            median(&mut read_p50),
        )
    };
    let (sw50, sw99, sr50) = summary(&mut sealed_rounds);
    let (pw50, pw99, pr50) = summary(&mut plain_rounds);
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    let report = json!({
        "rounds": rounds,
        "conversations_per_round": conversations,
        "messages_per_conversation": per,
        "typed_chars": TYPED.chars().count(),
        "write_us_per_message": {
            "sealed": {"p50": round2(sw50), "p99": round2(sw99)},
            "plain": {"p50": round2(pw50), "p99": round2(pw99)},
            "ratio_p50": round2(sw50 / pw50),
            "ratio_p99": round2(sw99 / pw99),
        },
        "read_us_per_conversation": {
            "sealed": round2(sr50),
            "plain": round2(pr50),
            "ratio": round2(sr50 / pr50),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
