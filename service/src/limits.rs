//! Rate limits: a token bucket per key (an address, an account, a
//! conversation), in memory. Time is handed in, so the buckets can be tested
//! without waiting.
//!
//! The patient side's limits ([`PatientLimits`]) are per keyed address hash
//! (never the address itself) and per conversation; staff logins are
//! limited in `accounts.rs`.

use std::collections::HashMap;
use std::sync::Mutex;

/// So many events per `per_ms`, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: u32,
    pub per_ms: u64,
}

impl Rate {
    /// `burst` events at once, refilled evenly over `secs` seconds.
    pub const fn per_secs(burst: u32, secs: u64) -> Rate {
        Rate {
            burst,
            per_ms: secs * 1000,
        }
    }
}

/// Sockets a patient's address may open (new chats and resumed ones): 30
/// at once, refilled over a minute.
pub const SOCKETS_PER_ADDRESS: Rate = Rate::per_secs(30, 60);
/// New conversations from one address: 10 at once, then one a minute. A
/// household or a clinic's waiting room shares an address; a script opening
/// hundreds does not get them.
pub const NEW_CHATS_PER_ADDRESS: Rate = Rate::per_secs(10, 600);
/// Messages in one conversation: 10 at once, then one every 3 seconds
/// (faster than anyone types for long). An emergency is never held back.
pub const MESSAGES_PER_CONVERSATION: Rate = Rate::per_secs(10, 30);

/// The patient side's limits.
#[derive(Debug)]
pub struct PatientLimits {
    pub sockets: Limiter,
    pub new_chats: Limiter,
    pub messages: Limiter,
}

impl PatientLimits {
    pub fn new(sockets: Rate, new_chats: Rate, messages: Rate) -> PatientLimits {
        PatientLimits {
            sockets: Limiter::new(sockets),
            new_chats: Limiter::new(new_chats),
            messages: Limiter::new(messages),
        }
    }
}

impl Default for PatientLimits {
    fn default() -> Self {
        PatientLimits::new(
            SOCKETS_PER_ADDRESS,
            NEW_CHATS_PER_ADDRESS,
            MESSAGES_PER_CONVERSATION,
        )
    }
}

/// Keys past this many are swept of full buckets before another is added,
/// so a scan across many addresses cannot grow the map without end.
const SWEEP_AT: usize = 10_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

/// Token buckets keyed by string.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    pub fn new(rate: Rate) -> Limiter {
        Limiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill_per_ms(&self) -> f64 {
        f64::from(self.rate.burst) / self.rate.per_ms.max(1) as f64
    }

    /// Takes one token for `key` at `now_ms`; when there is none, the
    /// seconds until there will be one.
    pub fn take(&self, key: &str, now_ms: u64) -> Result<(), u64> {
        let burst = f64::from(self.rate.burst);
        let refill = self.refill_per_ms();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_AT && !buckets.contains_key(key) {
            buckets
                .retain(|_, b| b.tokens + now_ms.saturating_sub(b.at_ms) as f64 * refill < burst);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            at_ms: now_ms,
        });
        let elapsed = now_ms.saturating_sub(bucket.at_ms) as f64;
        bucket.tokens = (bucket.tokens + elapsed * refill).min(burst);
        bucket.at_ms = now_ms.max(bucket.at_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait_ms = (1.0 - bucket.tokens) / refill;
            Err((wait_ms / 1000.0).ceil().max(1.0) as u64)
        }
    }

    /// Keys held (for tests and the sweep).
    pub fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_refill_and_keys_apart() {
        // 3 at once, refilled over 60 s: one every 20 s.
        let l = Limiter::new(Rate::per_secs(3, 60));
        for _ in 0..3 {
            l.take("a", 0).unwrap();
        }
        assert_eq!(l.take("a", 0), Err(20));
        assert_eq!(l.take("a", 15_000), Err(5));
        l.take("b", 15_000).unwrap();
        l.take("a", 20_000).unwrap();
        assert!(l.take("a", 20_001).is_err());
        // Long idle refills to the burst, never beyond it.
        for _ in 0..3 {
            l.take("a", 10_000_000).unwrap();
        }
        assert!(l.take("a", 10_000_000).is_err());
        // Time going backwards (another clock's reading) gives nothing away.
        assert!(l.take("a", 0).is_err());
    }

    #[test]
    fn full_buckets_are_swept_when_the_map_is_large() {
        let l = Limiter::new(Rate::per_secs(1, 1));
        for i in 0..SWEEP_AT {
            l.take(&i.to_string(), 0).unwrap();
        }
        assert_eq!(l.len(), SWEEP_AT);
        // A second later every bucket is full again: a new key sweeps them.
        l.take("new", 1_000).unwrap();
        assert_eq!(l.len(), 1);
    }
}
