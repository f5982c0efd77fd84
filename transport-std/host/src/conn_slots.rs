//! Connection slots, shared by every runtime: per-client admission (core's
//! [`Admission`]), a phase mark per connection (idle, in a head or TLS
//! handshake, or serving), and making room at the global limit when a new
//! connection is waiting: the connection idle the longest gives way, or,
//! when none is idle, the one that has been sending its head the longest
//! (core's [`victim`]), so slow heads and slow handshakes cannot hold the
//! server full.
//!
//! Marking a connection's phase is one atomic store; the registry's lock
//! is taken only when a connection starts or ends, and when the server is
//! full. A connection told to give way notices at its next wake-up
//! between requests or in its head and closes itself (an idle async
//! connection is woken for it at once; others within the shutdown poll,
//! at most 500 ms): no descriptor is duplicated or closed from outside.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use pared_core::admission::{victim, Admission, Phase};
use pared_core::ServerOptions;

/// The registry of live connections.
#[derive(Debug)]
pub struct Slots {
    inner: Mutex<Inner>,
    epoch: Instant,
    max: Option<usize>,
}

#[derive(Debug)]
struct Inner {
    admission: Admission,
    /// By id: ids are sequential and ours, so a multiplication hashes them
    /// (no SipHash per connection; client-chosen keys, the addresses in
    /// `admission`, keep the default hasher).
    conns: HashMap<u64, Arc<State>, BuildHasherDefault<IdHasher>>,
    next: u64,
}

/// Hashes a connection id with one multiplication (Fibonacci hashing), so
/// sequential ids spread over both the bucket bits and the tag bits.
#[derive(Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The bit of a phase mark that says "in a head" (clear: idle).
const IN_HEAD: u64 = 1 << 63;

/// What the registry and a connection share about the connection.
#[derive(Debug, Default)]
struct State {
    /// 0 while serving a request; else [`IN_HEAD`] for a connection in its
    /// head or handshake (clear: idle between requests), with 1 +
    /// nanoseconds since the registry's epoch at which that phase began.
    mark: AtomicU64,
    /// Set when the connection must give its slot to a waiting one.
    evict: AtomicBool,
    /// Wakes an async connection waiting between requests, so it notices
    /// an eviction or a shutdown at once instead of polling for it.
    waker: Mutex<Option<Waker>>,
}

impl State {
    fn wake(&self) {
        if let Some(w) = self.waker.lock().ok().and_then(|mut w| w.take()) {
            w.wake();
        }
    }
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    id: u64,
    ip: IpAddr,
    state: Arc<State>,
}

impl Slots {
    /// A registry for a server with these options.
    pub fn new(opts: &ServerOptions) -> Arc<Slots> {
        Arc::new(Slots {
            inner: Mutex::new(Inner {
                admission: Admission::new(opts.max_per_client, opts.ipv6_client_prefix),
                conns: HashMap::default(),
                next: 0,
            }),
            epoch: Instant::now(),
            max: opts.max_connections,
        })
    }

    /// Admits a connection from `ip`, or `None` when its client already
    /// holds its limit (answer 503 and close).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut inner = self.inner.lock().ok()?;
        if !inner.admission.admit(ip) {
            crate::metrics::refused();
            return None;
        }
        crate::metrics::connection(1);
        let id = inner.next;
        inner.next += 1;
        let state = Arc::new(State::default());
        inner.conns.insert(id, state.clone());
        let slot = Slot {
            slots: self.clone(),
            id,
            ip,
            state,
        };
        // A new connection is in its handshake or first head.
        slot.mark(SlotPhase::Head);
        Some(slot)
    }

    /// Connections admitted and not yet ended.
    pub fn active(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.conns.len())
    }

    /// True when every slot of the global limit is taken.
    pub fn full(&self) -> bool {
        self.max.is_some_and(|max| self.active() >= max)
    }

    /// Tells one connection to close, so a waiting one can take its slot:
    /// the one idle the longest, else the one in its head the longest;
    /// false when every connection is serving a request.
    pub fn make_room(&self) -> bool {
        let Ok(inner) = self.inner.lock() else {
            return false;
        };
        // The stored reading (1 + nanoseconds since the epoch) orders as
        // the instant it stands for; 0 is serving.
        let candidates =
            inner
                .conns
                .iter()
                .filter_map(|(&id, e)| match e.mark.load(Ordering::Relaxed) {
                    0 => None,
                    n if n & IN_HEAD != 0 => Some((id, Phase::Head, n & !IN_HEAD)),
                    n => Some((id, Phase::Idle, n)),
                });
        let Some(chosen) = victim(candidates) else {
            return false;
        };
        match inner.conns.get(&chosen) {
            Some(e) => {
                e.mark.store(0, Ordering::Relaxed);
                e.evict.store(true, Ordering::Relaxed);
                e.wake();
                true
            }
            None => false,
        }
    }

    /// Wakes every async connection waiting between requests (at
    /// shutdown: each then sees the request and closes).
    pub fn wake_all(&self) {
        let states: Vec<Arc<State>> = match self.inner.lock() {
            Ok(inner) => inner.conns.values().cloned().collect(),
            Err(_) => return,
        };
        for state in states {
            state.wake();
        }
    }
}

impl Slot {
    /// True when the connection must close to make room (it was idle the
    /// longest while the server was full and a client was waiting).
    pub fn evicted(&self) -> bool {
        self.state.evict.load(Ordering::Relaxed)
    }

    /// Asks to be woken through `waker` when the connection is evicted or
    /// the server shuts down ([`Slots::wake_all`]); an async connection
    /// registers before it waits between requests, then checks again.
    pub fn wake_on_change(&self, waker: &Waker) {
        if let Ok(mut w) = self.state.waker.lock() {
            match &*w {
                Some(old) if old.will_wake(waker) => {}
                _ => *w = Some(waker.clone()),
            }
        }
    }

    /// Marks what the connection is doing; a phase it is already in keeps
    /// the instant it began.
    pub fn mark(&self, phase: SlotPhase) {
        let tag = match phase {
            SlotPhase::Serving => {
                self.state.mark.store(0, Ordering::Relaxed);
                return;
            }
            SlotPhase::Idle => 0,
            SlotPhase::Head => IN_HEAD,
        };
        let now = self.state.mark.load(Ordering::Relaxed);
        if now != 0 && now & IN_HEAD == tag {
            return;
        }
        let since = u64::try_from(self.slots.epoch.elapsed().as_nanos())
            .unwrap_or(IN_HEAD - 2)
            .min(IN_HEAD - 2);
        self.state.mark.store(tag | (since + 1), Ordering::Relaxed);
    }
}

/// What a connection is doing, as its slot records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotPhase {
    /// Serving a request: never told to give way.
    Serving,
    /// Between requests with nothing pending: gives way first.
    Idle,
    /// In its TLS handshake or receiving a request head: gives way when
    /// none is idle, the oldest first.
    Head,
}

impl Drop for Slot {
    fn drop(&mut self) {
        crate::metrics::connection(-1);
        if let Ok(mut inner) = self.slots.inner.lock() {
            inner.conns.remove(&self.id);
            inner.admission.release(self.ip);
        }
    }
}

/// True when a connection is waiting to be accepted on `listener`.
pub fn pending(listener: impl AsFd) -> bool {
    crate::wait::wait_for(listener, rustix::event::PollFlags::IN, Some(Duration::ZERO))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn admits_marks_and_makes_room() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let opts = ServerOptions {
            max_connections: Some(2),
            max_per_client: Some(2),
            ..ServerOptions::default()
        };
        let slots = Slots::new(&opts);
        let _c1 = TcpStream::connect(addr).unwrap();
        let _c2 = TcpStream::connect(addr).unwrap();
        let _c3 = TcpStream::connect(addr).unwrap();
        let (s1, p) = l.accept().unwrap();
        let (s2, _) = l.accept().unwrap();
        let _ = (&s1, &s2);
        let a = slots.admit(p.ip()).unwrap();
        let b = slots.admit(p.ip()).unwrap();
        assert!(slots.admit(p.ip()).is_none(), "per-client limit");
        assert!(slots.full());
        assert!(pending(&l), "a third connection waits");
        a.mark(SlotPhase::Serving);
        b.mark(SlotPhase::Serving);
        assert!(!slots.make_room(), "both serving");
        b.mark(SlotPhase::Idle);
        assert!(slots.make_room());
        // The idle one is told to go; the busy one is not.
        assert!(b.evicted() && !a.evicted());
        drop(b);
        assert!(!slots.full());
        drop(a);
        assert_eq!(slots.active(), 0);
    }

    #[test]
    fn idle_first_then_the_oldest_head() {
        let opts = ServerOptions {
            max_connections: Some(3),
            max_per_client: None,
            ..ServerOptions::default()
        };
        let slots = Slots::new(&opts);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let old_head = slots.admit(ip).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let young_head = slots.admit(ip).unwrap();
        let idle = slots.admit(ip).unwrap();
        idle.mark(SlotPhase::Idle);
        assert!(slots.make_room());
        assert!(idle.evicted(), "an idle connection goes first");
        assert!(slots.make_room());
        assert!(
            old_head.evicted() && !young_head.evicted(),
            "then the oldest head"
        );
        // A head that keeps arriving keeps its first instant: marked
        // again, it is still older than one that began later.
        let again = Slots::new(&opts);
        let first = again.admit(ip).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let second = again.admit(ip).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        first.mark(SlotPhase::Head);
        assert!(again.make_room());
        assert!(first.evicted() && !second.evicted());
        // A connection serving a request never gives way.
        second.mark(SlotPhase::Serving);
        assert!(!again.make_room(), "serving: never");
        drop(young_head);
    }
}
