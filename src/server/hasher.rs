//! The password-hashing pool.
//!
//! Argon2id is deliberately expensive in memory and time, so hashing on the
//! async runtime, or on an unbounded number of threads, would let a storm of
//! sign-ins stall the server or exhaust its memory. Instead a fixed number of
//! worker threads each own one reusable block buffer, and work waits in a
//! bounded queue.
//!
//! A request takes its place in that queue ([`Hasher::admit`]) before it
//! hashes, and when every place is taken a storm is refused at the door with
//! [`HashError::Overloaded`] (a 503 with `Retry-After`) before any database
//! work, in the time it takes to look at a semaphore. A job that still cannot
//! start before its deadline is shed the same way, and the worker skips it.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thread_priority::{set_current_thread_priority, ThreadPriority, ThreadPriorityValue};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::config::{parse_number, ConfigError};
use crate::core::password::{self, Password, Verifier};

#[derive(Debug, Clone)]
pub struct HasherConfig {
    pub workers: usize,
    /// Places in the queue; when unset, as many as the workers can finish
    /// within half the deadline, measured at start on this machine.
    pub queue: Option<usize>,
    pub deadline: Duration,
}

/// The hashing threads' priority on the crate's 0–99 scale, which maps 35 to
/// nice 5 on Linux.
const HASHING_PRIORITY: u8 = 35;

/// Bounds on the measured queue size, whatever the machine's speed.
const QUEUE_BOUNDS: (usize, usize) = (4, 1_024);

impl HasherConfig {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        let workers = parse_number(get, "TWOFOLD_HASH_WORKERS", cores)?.max(1);
        Ok(HasherConfig {
            workers,
            queue: match get("TWOFOLD_HASH_QUEUE") {
                Some(_) => Some(parse_number(get, "TWOFOLD_HASH_QUEUE", 1)?.max(1)),
                None => None,
            },
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

/// A place in the hashing queue, held for the whole sign-in attempt; the
/// place is given back when this is dropped.
pub struct Admission {
    _place: OwnedSemaphorePermit,
}

#[derive(Clone)]
pub struct Hasher {
    jobs: SyncSender<Job>,
    /// One permit per place in the queue plus one per worker, so that a
    /// request holding a permit always finds room in the channel.
    places: Arc<Semaphore>,
    deadline: Duration,
    /// A hash of a random password, checked for unknown emails so they cost
    /// the same as a wrong password.
    dummy: Arc<str>,
}

impl Hasher {
    pub fn start(config: &HasherConfig) -> Result<Hasher, HashError> {
        // The dummy hash doubles as a measurement of this machine's speed.
        let started = Instant::now();
        let random = Password::for_sign_in(hex::encode(rand::random::<[u8; 16]>()))
            .map_err(|_| HashError::BadHash)?;
        let dummy =
            password::hash(&random, &mut rand::thread_rng()).map_err(|_| HashError::BadHash)?;
        let size = config
            .queue
            .unwrap_or_else(|| fitting_queue(config, started.elapsed()));
        tracing::info!(
            workers = config.workers,
            queue = size,
            "password hashers started"
        );

        let (jobs, queue) = sync_channel::<Job>(size);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..config.workers {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("hasher-{index}"))
                .spawn(move || work(&queue))
                .map_err(|_| HashError::Overloaded)?;
        }

        let places = Arc::new(Semaphore::new(size + config.workers));
        Ok(Hasher {
            jobs,
            places,
            deadline: config.deadline,
            dummy: dummy.into(),
        })
    }

    /// Whether every place is taken right now. Only a hint, for refusing
    /// early: [`Hasher::admit`] is what actually bounds the work.
    pub fn is_saturated(&self) -> bool {
        self.places.available_permits() == 0
    }

    /// Takes a place in the queue, or refuses at once when there is none.
    pub fn admit(&self) -> Result<Admission, HashError> {
        let place = Arc::clone(&self.places).try_acquire_owned();
        place
            .map(|p| Admission { _place: p })
            .map_err(|_| HashError::Overloaded)
    }

    /// Checks `password` against `phc`, or against the dummy hash when there
    /// is no account, so that both cost the same.
    pub async fn verify(
        &self,
        _place: Admission,
        password: Password,
        phc: Option<&str>,
    ) -> Result<bool, HashError> {
        let known = phc.is_some();
        let phc: Arc<str> = phc.map_or_else(|| Arc::clone(&self.dummy), Arc::from);
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send(Job {
            password,
            phc,
            reply,
        }) {
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
}

/// How many jobs the workers can finish in half the deadline at the measured
/// speed. Half, because hashes slow down when every core is busy; a request
/// that would wait longer is better refused at once than after the deadline.
fn fitting_queue(config: &HasherConfig, one_hash: Duration) -> usize {
    let per_worker = config.deadline.as_micros() / 2 / one_hash.as_micros().max(1);
    let size = usize::try_from(per_worker)
        .unwrap_or(usize::MAX)
        .saturating_mul(config.workers);
    size.clamp(QUEUE_BOUNDS.0, QUEUE_BOUNDS.1)
}

fn work(queue: &Mutex<Receiver<Job>>) {
    // Hashing runs slightly below normal priority (nice 5 on Linux), so the
    // threads that answer requests win the processor when they wake: a
    // saturated pool still lets the server refuse extra sign-ins, and answer
    // everything else, at once. Only slightly, so that other busy programs
    // on the machine cannot starve sign-ins. Lowering one's own priority
    // needs no privilege; if the system refuses anyway, hashing still works.
    let lowered = ThreadPriorityValue::try_from(HASHING_PRIORITY)
        .map_err(|e| e.to_string())
        .and_then(|p| {
            set_current_thread_priority(ThreadPriority::Crossplatform(p)).map_err(|e| e.to_string())
        });
    if let Err(err) = lowered {
        tracing::debug!(error = %err, "cannot lower the priority of a hashing thread");
    }
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
        let verdict = verifier
            .verify(&job.password, &job.phc)
            .map_err(|_| HashError::BadHash);
        let _ = job.reply.send(verdict);
    }
}
