//! One inference thread per model, fed by a bounded queue.
//!
//! Inference is CPU-bound and takes milliseconds, so it must not run on a
//! tokio worker. A [`Worker`] owns one thread; the thread drains whatever is
//! waiting into one batch (up to a limit), which is where throughput under
//! load comes from. A full queue is reported as [`EngineError::Busy`] at once
//! rather than making callers wait without bound. The sentence encoder and
//! the PII model each run on one.

use std::sync::mpsc::{self, SyncSender, TrySendError};

use tokio::sync::oneshot;

use crate::{EngineError, Result};

/// A model that maps texts to one output each, in order.
pub trait BatchModel: Send + 'static {
    type Output: Send + 'static;
    fn run(&self, texts: &[&str]) -> Result<Vec<Self::Output>>;
}

struct Job<O> {
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Vec<O>>>,
}

/// A cheap, cloneable handle to a model's thread.
pub struct Worker<O> {
    tx: SyncSender<Job<O>>,
    max_batch: usize,
}

impl<O> Clone for Worker<O> {
    fn clone(&self) -> Self {
        Worker {
            tx: self.tx.clone(),
            max_batch: self.max_batch,
        }
    }
}

impl<O: Send + 'static> Worker<O> {
    /// Moves `model` onto a thread named `name` with a queue of `capacity`
    /// requests; one forward pass takes up to `max_batch` texts.
    pub fn spawn<M: BatchModel<Output = O>>(
        model: M,
        name: &str,
        capacity: usize,
        max_batch: usize,
    ) -> Worker<O> {
        let (tx, rx) = mpsc::sync_channel::<Job<O>>(capacity.max(1));
        let max_batch = max_batch.max(1);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    let mut n = jobs[0].texts.len();
                    while n < max_batch {
                        match rx.try_recv() {
                            Ok(job) => {
                                n += job.texts.len();
                                jobs.push(job);
                            }
                            Err(_) => break,
                        }
                    }
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
            })
            .expect("spawning an inference thread");
        Worker { tx, max_batch }
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
        for chunk in texts.chunks(self.max_batch) {
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
