//! One inference thread per model, fed by a bounded queue.
//!
//! Inference is CPU-bound and takes milliseconds, so it must not run on a
//! tokio worker. A [`Worker`] owns one thread; the thread drains whatever is
//! waiting into one batch under a budget (in tokens, for the models, so a
//! few long messages do not make one slow pass that everyone waits for),
//! which is where throughput under load comes from. A full queue is reported as [`EngineError::Busy`] at once
//! rather than making callers wait without bound. The sentence encoder and
//! the PII model each run on one.

use std::sync::mpsc::{self, SyncSender, TrySendError};

use tokio::sync::oneshot;

use crate::{EngineError, Result};

/// A model that maps texts to one output each, in order.
pub trait BatchModel: Send + 'static {
    type Output: Send + 'static;
    fn run(&self, texts: &[&str]) -> Result<Vec<Self::Output>>;
    /// What `text` costs in the batch budget: its tokens, for a model.
    fn cost(&self, _text: &str) -> usize {
        1
    }
}

struct Job<O> {
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Vec<O>>>,
}

/// A cheap, cloneable handle to a model's thread.
pub struct Worker<O> {
    tx: SyncSender<Job<O>>,
}

impl<O> Clone for Worker<O> {
    fn clone(&self) -> Self {
        Worker {
            tx: self.tx.clone(),
        }
    }
}

impl<O: Send + 'static> Worker<O> {
    /// Moves `model` onto a thread named `name` with a queue of `capacity`
    /// requests. One forward pass takes the waiting requests in order while
    /// their texts' [`BatchModel::cost`] stays within `budget` (a request
    /// that alone exceeds it runs alone; one that would overflow a batch
    /// starts the next).
    pub fn spawn<M: BatchModel<Output = O>>(
        model: M,
        name: &str,
        capacity: usize,
        budget: usize,
    ) -> Worker<O> {
        let (tx, rx) = mpsc::sync_channel::<Job<O>>(capacity.max(1));
        let budget = budget.max(1);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let cost = |job: &Job<O>| job.texts.iter().map(|t| model.cost(t)).sum::<usize>();
                let mut carried: Option<(Job<O>, usize)> = None;
                loop {
                    let (first, mut spent) = match carried.take() {
                        Some(c) => c,
                        None => match rx.recv() {
                            Ok(job) => {
                                let c = cost(&job);
                                (job, c)
                            }
                            Err(_) => break,
                        },
                    };
                    let mut jobs = vec![first];
                    while spent < budget {
                        let Ok(job) = rx.try_recv() else { break };
                        let c = cost(&job);
                        if spent + c > budget {
                            carried = Some((job, c));
                            break;
                        }
                        spent += c;
                        jobs.push(job);
                    }
                    run_batch(&model, jobs);
                }
            })
            .expect("spawning an inference thread");
        Worker { tx }
    }

    /// Runs `texts` without blocking the caller's thread; `Busy` when the
    /// queue is full.
    pub async fn run(&self, texts: Vec<String>) -> Result<Vec<O>> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Job { texts, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(EngineError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(EngineError::Stopped),
        }
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Runs many texts, waiting for queue space: for start-up and batch
    /// tools, not for request handling.
    pub async fn run_all(&self, texts: Vec<String>) -> Result<Vec<O>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(RUN_ALL_CHUNK) {
            let (reply, rx) = oneshot::channel();
            let tx = self.tx.clone();
            let job = Job {
                texts: chunk.to_vec(),
                reply,
            };
            // A blocking send would stall a tokio worker; wait for queue
            // space on the blocking pool instead.
            tokio::task::spawn_blocking(move || tx.send(job))
                .await
                .map_err(|_| EngineError::Stopped)?
                .map_err(|_| EngineError::Stopped)?;
            out.extend(rx.await.map_err(|_| EngineError::Stopped)??);
        }
        Ok(out)
    }
}

/// Texts per request when [`Worker::run_all`] feeds a long list through
/// the queue.
const RUN_ALL_CHUNK: usize = 32;

/// One forward pass over every job's texts; each job gets its own outputs.
fn run_batch<M: BatchModel>(model: &M, jobs: Vec<Job<M::Output>>) {
    let all: Vec<&str> = jobs
        .iter()
        .flat_map(|j| j.texts.iter().map(String::as_str))
        .collect();
    match model.run(&all) {
        Ok(mut outputs) if outputs.len() == all.len() => {
            for job in jobs.into_iter().rev() {
                let rest = outputs.split_off(outputs.len() - job.texts.len());
                let _ = job.reply.send(Ok(rest));
            }
        }
        Ok(_) => {
            for job in jobs {
                let _ = job.reply.send(Err(EngineError::Config(
                    "the model returned the wrong number of outputs".into(),
                )));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for job in jobs {
                let _ = job.reply.send(Err(EngineError::Config(message.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text lengths, slowly, so that a queue builds up behind the first job.
    struct Lengths;

    impl BatchModel for Lengths {
        type Output = usize;
        fn run(&self, texts: &[&str]) -> Result<Vec<usize>> {
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(texts.iter().map(|t| t.len()).collect())
        }
    }

    #[tokio::test]
    async fn answers_each_caller_in_order_and_says_busy_when_full() {
        let w = Worker::spawn(Lengths, "test-worker", 1, 4);
        assert_eq!(w.run(vec!["a".into(), "abc".into()]).await.unwrap(), [1, 3]);
        // Many callers at once: the thread takes one, one waits in the queue,
        // the rest are told "busy" straight away.
        let calls = (0..8).map(|i| {
            let w = w.clone();
            async move { w.run(vec!["x".repeat(i)]).await }
        });
        let results = futures_join(calls).await;
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(EngineError::Busy)))
            .count();
        assert!(busy >= 1, "a queue of one cannot hold eight callers");
        for (i, r) in results.iter().enumerate() {
            if let Ok(v) = r {
                assert_eq!(v, &[i], "each caller gets its own answer");
            }
        }
        // run_all waits for space instead, and keeps order across chunks.
        let texts: Vec<String> = (0..10).map(|i| "y".repeat(i)).collect();
        assert_eq!(w.run_all(texts).await.unwrap(), (0..10).collect::<Vec<_>>());
    }

    /// Records the cost and the size of every pass it runs.
    struct Passes(std::sync::Arc<std::sync::Mutex<Vec<(usize, usize)>>>);

    impl BatchModel for Passes {
        type Output = usize;
        fn run(&self, texts: &[&str]) -> Result<Vec<usize>> {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let cost = texts.iter().map(|t| self.cost(t)).sum();
            self.0.lock().unwrap().push((cost, texts.len()));
            Ok(texts.iter().map(|t| t.len()).collect())
        }
        fn cost(&self, text: &str) -> usize {
            text.len()
        }
    }

    #[tokio::test]
    async fn passes_stay_within_the_budget_and_nothing_is_dropped() {
        let passes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let w = Worker::spawn(Passes(passes.clone()), "test-budget", 64, 10);
        // Costs 1..=12 arrive together: the 12 exceeds the budget on its own
        // and must run alone; the others are packed without overflowing.
        let calls = (1..=12).map(|i| {
            let w = w.clone();
            async move { w.run(vec!["z".repeat(i)]).await }
        });
        let results = futures_join(calls).await;
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.as_ref().unwrap(), &[i + 1]);
        }
        let passes = passes.lock().unwrap().clone();
        assert_eq!(passes.iter().map(|p| p.1).sum::<usize>(), 12);
        for &(cost, texts) in &passes {
            assert!(cost <= 10 || texts == 1, "over budget: {passes:?}");
        }
        assert!(
            passes.iter().any(|&(_, texts)| texts > 1),
            "queued requests share passes: {passes:?}"
        );
    }

    async fn futures_join<F>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = fs.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }
}
