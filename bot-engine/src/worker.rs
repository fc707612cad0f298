//! One inference thread per model, fed by a bounded queue.
//!
//! Inference is CPU-bound and takes milliseconds, so it must not run on a
//! tokio worker. A [`Worker`] owns one thread; the thread drains whatever is
//! waiting into one batch under a budget (in tokens, for the models, so a
//! few long messages do not make one slow pass that everyone waits for),
//! which is where throughput under load comes from. A full queue is
//! reported as [`EngineError::Busy`] at once rather than making callers
//! wait without bound. Beside it runs an urgent lane that is never full and
//! always served first ([`Worker::run_urgent`]): an emergency must not be
//! told "busy" because other patients are asking about parking. The
//! sentence encoder and the PII model each run on one.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

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

/// What waits for the thread: urgent jobs (never refused, always taken
/// first) and ordinary ones (at most `capacity`).
struct Queues<O> {
    urgent: VecDeque<Job<O>>,
    normal: VecDeque<Job<O>>,
    capacity: usize,
    /// Every handle is gone: the thread drains what is left and stops.
    closed: bool,
}

struct Lanes<O> {
    queues: Mutex<Queues<O>>,
    ready: Condvar,
}

impl<O> Lanes<O> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues<O>> {
        // A panic while holding the lock leaves plain queues behind: still
        // usable.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Closes the lanes when the last [`Worker`] clone is dropped.
struct Handle<O>(Arc<Lanes<O>>);

impl<O> Drop for Handle<O> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_all();
    }
}

/// A cheap, cloneable handle to a model's thread.
pub struct Worker<O> {
    handle: Arc<Handle<O>>,
}

impl<O> Clone for Worker<O> {
    fn clone(&self) -> Self {
        Worker {
            handle: self.handle.clone(),
        }
    }
}

impl<O: Send + 'static> Worker<O> {
    /// Moves `model` onto a thread named `name` with a queue of `capacity`
    /// requests. One forward pass takes the waiting requests in order while
    /// their texts' [`BatchModel::cost`] stays within `budget` (a request
    /// that alone exceeds it runs alone; one that would overflow a batch
    /// starts the next). Urgent requests ([`Worker::run_urgent`]) make
    /// passes of their own, before anything ordinary that waits.
    pub fn spawn<M: BatchModel<Output = O>>(
        model: M,
        name: &str,
        capacity: usize,
        budget: usize,
    ) -> Worker<O> {
        let lanes = Arc::new(Lanes {
            queues: Mutex::new(Queues {
                urgent: VecDeque::new(),
                normal: VecDeque::new(),
                capacity: capacity.max(1),
                closed: false,
            }),
            ready: Condvar::new(),
        });
        let budget = budget.max(1);
        let thread_lanes = lanes.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while let Some(jobs) = next_batch(&thread_lanes, &model, budget) {
                    run_batch(&model, jobs);
                }
            })
            .expect("spawning an inference thread");
        Worker {
            handle: Arc::new(Handle(lanes)),
        }
    }

    fn lanes(&self) -> &Lanes<O> {
        &self.handle.0
    }

    /// Requests waiting for a pass now, urgent and ordinary.
    pub fn waiting(&self) -> usize {
        let q = self.lanes().lock();
        q.urgent.len() + q.normal.len()
    }

    /// Runs `texts` without blocking the caller's thread; `Busy` when the
    /// queue is full.
    pub async fn run(&self, texts: Vec<String>) -> Result<Vec<O>> {
        let (reply, rx) = oneshot::channel();
        {
            let mut q = self.lanes().lock();
            if q.normal.len() >= q.capacity {
                return Err(EngineError::Busy);
            }
            q.normal.push_back(Job { texts, reply });
        }
        self.lanes().ready.notify_all();
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Runs `texts` ahead of every ordinary request that waits, and is never
    /// refused as busy: for work that must not wait behind a full queue (an
    /// emergency's redaction). It still waits for the pass in progress.
    pub async fn run_urgent(&self, texts: Vec<String>) -> Result<Vec<O>> {
        let (reply, rx) = oneshot::channel();
        self.lanes().lock().urgent.push_back(Job { texts, reply });
        self.lanes().ready.notify_all();
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Runs many texts, waiting for queue space: for start-up and batch
    /// tools, not for request handling.
    pub async fn run_all(&self, texts: Vec<String>) -> Result<Vec<O>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(RUN_ALL_CHUNK) {
            let (reply, rx) = oneshot::channel();
            let job = Job {
                texts: chunk.to_vec(),
                reply,
            };
            // Waiting for space blocks: do it on the blocking pool, never
            // on a tokio worker.
            let handle = self.handle.clone();
            tokio::task::spawn_blocking(move || {
                let lanes = &handle.0;
                let mut q = lanes.lock();
                while q.normal.len() >= q.capacity {
                    q = lanes.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                q.normal.push_back(job);
                drop(q);
                lanes.ready.notify_all();
            })
            .await
            .map_err(|_| EngineError::Stopped)?;
            out.extend(rx.await.map_err(|_| EngineError::Stopped)??);
        }
        Ok(out)
    }
}

/// The next pass's jobs: every urgent job waiting, or else ordinary ones in
/// order within `budget`; `None` once the lanes are closed and empty.
///
/// A job's cost is the model's tokenizer at work, so it is computed with
/// the lock released: callers on the server's runtime threads take the same
/// lock to queue a message, and must never wait for a tokenizer. A job that
/// would overflow the pass goes back to the front of its queue (for that
/// moment the queue may hold one job more than its capacity).
fn next_batch<M: BatchModel>(
    lanes: &Lanes<M::Output>,
    model: &M,
    budget: usize,
) -> Option<Vec<Job<M::Output>>> {
    let mut q = lanes.lock();
    while q.urgent.is_empty() && q.normal.is_empty() {
        if q.closed {
            return None;
        }
        q = lanes.ready.wait(q).unwrap_or_else(|e| e.into_inner());
    }
    let jobs: Vec<_> = if q.urgent.is_empty() {
        let first = q.normal.pop_front().expect("not empty");
        drop(q);
        let cost = |job: &Job<M::Output>| job.texts.iter().map(|t| model.cost(t)).sum::<usize>();
        let mut spent = cost(&first);
        let mut jobs = vec![first];
        while spent < budget {
            let Some(next) = lanes.lock().normal.pop_front() else {
                break;
            };
            let c = cost(&next);
            if spent + c > budget {
                lanes.lock().normal.push_front(next);
                break;
            }
            spent += c;
            jobs.push(next);
        }
        jobs
    } else {
        let jobs = q.urgent.drain(..).collect();
        drop(q);
        jobs
    };
    // Room in the ordinary queue: wake `run_all` callers waiting for it.
    lanes.ready.notify_all();
    Some(jobs)
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

    /// Records what each pass held, and holds its first pass until told.
    struct Gated {
        passes: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
        started: std::sync::mpsc::Sender<()>,
        release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
    }

    impl BatchModel for Gated {
        type Output = usize;
        fn run(&self, texts: &[&str]) -> Result<Vec<usize>> {
            let mut passes = self.passes.lock().unwrap();
            if passes.is_empty() {
                self.started.send(()).unwrap();
                self.release.lock().unwrap().recv().unwrap();
            }
            passes.push(texts.iter().map(|t| t.to_string()).collect());
            Ok(texts.iter().map(|t| t.len()).collect())
        }
    }

    #[tokio::test]
    async fn urgent_work_is_never_busy_and_goes_first() {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        let passes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (started_tx, started) = std::sync::mpsc::channel();
        let (release, release_rx) = std::sync::mpsc::channel();
        let w = Worker::spawn(
            Gated {
                passes: passes.clone(),
                started: started_tx,
                release: std::sync::Mutex::new(release_rx),
            },
            "test-urgent",
            1,
            100,
        );
        // A future's first poll enqueues its request.
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(w.run(vec!["first".into()]));
        assert!(first.as_mut().poll(&mut cx).is_pending());
        started.recv().unwrap();
        // The thread is busy with `first`; one ordinary request fills the
        // queue.
        let mut queued = Box::pin(w.run(vec!["queued".into()]));
        assert!(queued.as_mut().poll(&mut cx).is_pending());
        assert!(matches!(
            w.run(vec!["refused".into()]).await,
            Err(EngineError::Busy)
        ));
        let mut urgent = Box::pin(w.run_urgent(vec!["urgent".into()]));
        assert!(matches!(urgent.as_mut().poll(&mut cx), Poll::Pending));
        release.send(()).unwrap();
        assert_eq!(urgent.await.unwrap(), [6]);
        assert_eq!(queued.await.unwrap(), [6]);
        assert_eq!(first.await.unwrap(), [5]);
        assert_eq!(
            *passes.lock().unwrap(),
            [vec!["first"], vec!["urgent"], vec!["queued"]],
            "the urgent request ran before the ordinary one that waited longer"
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
