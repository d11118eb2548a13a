//! The password-hashing pool.
//!
//! Argon2id is deliberately expensive in memory and time, so hashing on the
//! async runtime, or on an unbounded number of threads, would let a storm of
//! sign-ins stall the server or exhaust its memory. Instead a fixed number of
//! worker threads each own one reusable block buffer, and work waits in a
//! bounded queue. A job that cannot start before its deadline is shed: the
//! caller gets [`HashError::Overloaded`] (a 503 with `Retry-After`) at once,
//! and the worker skips the job when it reaches it.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::config::{parse_number, ConfigError};
use crate::core::password::{self, Password, Verifier};

#[derive(Debug, Clone)]
pub struct HasherConfig {
    pub workers: usize,
    pub queue: usize,
    pub deadline: Duration,
}

impl HasherConfig {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        let workers = parse_number(get, "TWOFOLD_HASH_WORKERS", cores)?.max(1);
        Ok(HasherConfig {
            workers,
            queue: parse_number(get, "TWOFOLD_HASH_QUEUE", 32 * workers)?.max(1),
            deadline: Duration::from_millis(parse_number(get, "TWOFOLD_HASH_DEADLINE_MS", 2_000)?),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The queue is full or the deadline passed before a worker was free.
    #[error("the password hasher is saturated")]
    Overloaded,
    /// The stored hash is not a valid PHC string.
    #[error("a stored password hash is malformed")]
    BadHash,
}

struct Job {
    password: Password,
    phc: Arc<str>,
    reply: oneshot::Sender<Result<bool, HashError>>,
}

#[derive(Clone)]
pub struct Hasher {
    jobs: SyncSender<Job>,
    deadline: Duration,
    /// A hash of a random password, checked for unknown emails so they cost
    /// the same as a wrong password.
    dummy: Arc<str>,
}

impl Hasher {
    pub fn start(config: &HasherConfig) -> Result<Hasher, HashError> {
        let (jobs, queue) = sync_channel::<Job>(config.queue);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..config.workers {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("hasher-{index}"))
                .spawn(move || work(&queue))
                .map_err(|_| HashError::Overloaded)?;
        }

        let random = Password::for_sign_in(hex::encode(rand::random::<[u8; 16]>()))
            .map_err(|_| HashError::BadHash)?;
        let dummy = password::hash(&random, &mut rand::thread_rng()).map_err(|_| HashError::BadHash)?;
        Ok(Hasher { jobs, deadline: config.deadline, dummy: dummy.into() })
    }

    /// Checks `password` against `phc`, or against the dummy hash when there
    /// is no account, so that both cost the same.
    pub async fn verify(&self, password: Password, phc: Option<&str>) -> Result<bool, HashError> {
        let known = phc.is_some();
        let phc: Arc<str> = phc.map_or_else(|| Arc::clone(&self.dummy), Arc::from);
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send(Job { password, phc, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                return Err(HashError::Overloaded)
            }
        }

        // Dropping `answer` on timeout closes the channel, which tells the
        // worker to skip the job instead of hashing for nobody.
        let verdict = match tokio::time::timeout(self.deadline, answer).await {
            Ok(Ok(verdict)) => verdict?,
            Ok(Err(_)) | Err(_) => return Err(HashError::Overloaded),
        };
        Ok(verdict && known)
    }

    /// Hashes a new password on the pool's terms (off the async runtime).
    pub async fn hash_new(&self, password: Password) -> Result<String, HashError> {
        tokio::task::spawn_blocking(move || password::hash(&password, &mut rand::thread_rng()))
            .await
            .map_err(|_| HashError::Overloaded)?
            .map_err(|_| HashError::BadHash)
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    let mut verifier = Verifier::default();
    loop {
        // The lock is held only while taking a job, never while hashing.
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };

        if job.reply.is_closed() {
            continue;
        }
        let verdict = verifier.verify(&job.password, &job.phc).map_err(|_| HashError::BadHash);
        let _ = job.reply.send(verdict);
    }
}
