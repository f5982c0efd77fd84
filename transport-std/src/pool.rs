//! A cached thread pool: a connection runs on an idle worker when there is
//! one, else on a new thread; a worker idle for [`KEEP_IDLE`] exits. Spawning
//! a thread per connection costs tens of microseconds, which at thousands
//! of short connections a second is most of the work.
//!
//! Invariant: a job is never queued without a worker that will run it —
//! either an idle worker was counted (and is woken), or a new one is spawned.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long an idle worker waits for another connection before exiting.
pub const KEEP_IDLE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    idle: usize,
}

/// Runs jobs on reused threads.
#[derive(Clone, Default)]
pub struct Pool {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl Pool {
    /// An empty pool; threads are made on demand.
    pub fn new() -> Pool {
        Pool::default()
    }

    /// Runs `job` on an idle worker, or on a new one.
    pub fn execute(&self, job: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let (lock, cv) = &*self.inner;
        let mut st = lock.lock().map_err(|_| io::Error::other("pool poisoned"))?;
        if st.idle > st.queue.len() {
            st.queue.push_back(Box::new(job));
            cv.notify_one();
            return Ok(());
        }
        drop(st);
        let inner = self.inner.clone();
        std::thread::Builder::new()
            .name("pared-conn".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                job();
                worker(&inner);
            })
            .map(|_| ())
    }
}

fn worker(inner: &(Mutex<State>, Condvar)) {
    let (lock, cv) = inner;
    loop {
        let Ok(mut st) = lock.lock() else { return };
        st.idle += 1;
        let job = loop {
            if let Some(job) = st.queue.pop_front() {
                break Some(job);
            }
            match cv.wait_timeout(st, KEEP_IDLE) {
                Ok((guard, timeout)) => {
                    st = guard;
                    if timeout.timed_out() && st.queue.is_empty() {
                        break None;
                    }
                }
                Err(_) => return,
            }
        };
        st.idle -= 1;
        drop(st);
        match job {
            Some(job) => job(),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    #[test]
    fn runs_every_job_and_reuses_threads() {
        let pool = Pool::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for _ in 0..200 {
            let ran = ran.clone();
            let tx = tx.clone();
            pool.execute(move || {
                ran.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(std::thread::current().id());
            })
            .unwrap();
        }
        let ids: std::collections::HashSet<_> = (0..200)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert_eq!(ran.load(Ordering::SeqCst), 200);
        assert!(ids.len() < 200, "threads were not reused");
    }

    #[test]
    fn blocked_jobs_do_not_starve_new_ones() {
        let pool = Pool::new();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        for _ in 0..4 {
            let r = release_rx.clone();
            pool.execute(move || {
                let _ = r.lock().map(|r| r.recv_timeout(Duration::from_secs(10)));
            })
            .unwrap();
        }
        let (tx, rx) = mpsc::channel();
        pool.execute(move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(Duration::from_secs(5))
            .expect("a new job ran while others block");
        for _ in 0..4 {
            let _ = release_tx.send(());
        }
    }
}
