//! Idle keep-alive connections, held without a thread.
//!
//! A thread per connection keeps every stack page it ever touched, and a
//! thread's control block besides: some 16 KiB for a connection that only
//! waits. So the blocking server hands a connection that has been idle
//! for a while (its buffers already given back) to a [`ParkingLot`]: one
//! epoll set and a map of the parked connections' states. When the client
//! sends again the connection comes back out, and a thread serves it as
//! before; deadlines, shutdown and eviction are checked by whoever waits
//! on the lot ([`ParkingLot::retain`]).
//!
//! Registration is one-shot: a connection is reported once, then taken
//! out of the set and the map together, so it is never served twice.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rustix::event::epoll;

/// Parked connections, each waiting to become readable.
#[derive(Debug)]
pub struct ParkingLot<T> {
    epoll: OwnedFd,
    /// Boxed: a map's spare room is as large as its entries, and a
    /// connection's state is some 400 bytes.
    parked: Mutex<HashMap<u64, Box<T>>>,
    next: AtomicU64,
}

impl<T: AsFd> ParkingLot<T> {
    /// An empty parking lot.
    pub fn new() -> io::Result<ParkingLot<T>> {
        Ok(ParkingLot {
            epoll: epoll::create(epoll::CreateFlags::CLOEXEC)?,
            parked: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        })
    }

    /// Parks `item` until its descriptor is readable (or its peer hangs
    /// up); gives it back if it cannot be watched.
    pub fn park(&self, item: T) -> Result<(), T> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let Ok(mut parked) = self.parked.lock() else {
            return Err(item);
        };
        let flags = epoll::EventFlags::IN | epoll::EventFlags::RDHUP | epoll::EventFlags::ONESHOT;
        // Added while the map is locked: a report for `id` cannot be
        // handled before the item is in the map.
        if epoll::add(
            &self.epoll,
            item.as_fd(),
            epoll::EventData::new_u64(id),
            flags,
        )
        .is_err()
        {
            return Err(item);
        }
        parked.insert(id, Box::new(item));
        Ok(())
    }

    /// Waits up to `timeout` and returns the items whose client sent
    /// something (or hung up), no longer watched.
    pub fn wait(&self, timeout: Duration) -> io::Result<Vec<T>> {
        let mut events = Vec::with_capacity(256);
        let ts = rustix::event::Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        match epoll::wait(
            &self.epoll,
            rustix::buffer::spare_capacity(&mut events),
            Some(&ts),
        ) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
        let Ok(mut parked) = self.parked.lock() else {
            return Ok(Vec::new());
        };
        let mut ready = Vec::with_capacity(events.len());
        for event in &events {
            if let Some(item) = parked.remove(&event.data.u64()) {
                let _ = epoll::delete(&self.epoll, item.as_fd());
                ready.push(*item);
            }
        }
        Ok(ready)
    }

    /// Keeps the items for which `keep` is true and returns the others, no
    /// longer watched (dropping one closes its descriptor).
    pub fn retain(&self, mut keep: impl FnMut(&mut T) -> bool) -> Vec<T> {
        let Ok(mut parked) = self.parked.lock() else {
            return Vec::new();
        };
        let gone: Vec<u64> = parked
            .iter_mut()
            .filter_map(|(&id, item)| (!keep(item)).then_some(id))
            .collect();
        gone.into_iter()
            .filter_map(|id| parked.remove(&id))
            .map(|item| {
                let _ = epoll::delete(&self.epoll, item.as_fd());
                *item
            })
            .collect()
    }

    /// How many are parked.
    pub fn len(&self) -> usize {
        self.parked.lock().map_or(0, |p| p.len())
    }

    /// True when none is parked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (s, _) = l.accept().expect("accept");
        (c, s)
    }

    #[test]
    fn reports_a_parked_socket_once_when_its_client_sends() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let (mut c1, s1) = pair(&l);
        let (_c2, s2) = pair(&l);
        let lot = ParkingLot::new().expect("lot");
        lot.park(s1).expect("park");
        lot.park(s2).expect("park");
        assert!(lot
            .wait(Duration::from_millis(20))
            .expect("wait")
            .is_empty());
        c1.write_all(b"GET").expect("send");
        let ready = lot.wait(Duration::from_secs(5)).expect("wait");
        assert_eq!(ready.len(), 1);
        assert_eq!(lot.len(), 1);
        // Not reported again: it is out of the set.
        c1.write_all(b" /").expect("send");
        assert!(lot
            .wait(Duration::from_millis(20))
            .expect("wait")
            .is_empty());
    }

    #[test]
    fn retain_gives_back_what_it_drops() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let (_c1, s1) = pair(&l);
        let lot = ParkingLot::new().expect("lot");
        lot.park(s1).expect("park");
        assert!(lot.retain(|_| true).is_empty());
        assert_eq!(lot.retain(|_| false).len(), 1);
        assert!(lot.is_empty());
    }
}
