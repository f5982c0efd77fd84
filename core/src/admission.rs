//! Fair use of connection slots: how many connections one client may hold
//! at once, and which connection gives way when all slots are taken.
//!
//! One client holding every slot denies service to everyone else for as
//! long as it likes (slow readers, idle keep-alive connections, a trickle
//! of requests). Two rules, as nginx and Apache learned them:
//! - a per-client limit, counted per IPv4 address and per IPv6 /64 (one
//!   host usually owns a whole /64);
//! - at the global limit, a waiting new connection takes the slot of the
//!   connection that has been idle between requests the longest.
//!
//! Pure bookkeeping: the drivers count, ask, and close what they are told.

use core::net::IpAddr;
use std::collections::HashMap;

/// Which client a peer address counts as: the IPv4 address (IPv4-mapped
/// IPv6 included), or the /64 prefix of an IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(u128);

impl ClientKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> ClientKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => ClientKey((u128::from(v6) & !((1u128 << 64) - 1)) | 1 << 127),
        }
    }
}

/// Per-client connection counts against a limit.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    per_client: Option<usize>,
    counts: HashMap<ClientKey, usize>,
}

impl Admission {
    /// Counts with at most `per_client` connections per client (`None`:
    /// no limit).
    pub fn new(per_client: Option<usize>) -> Admission {
        Admission {
            per_client,
            counts: HashMap::new(),
        }
    }

    /// Admits a new connection from `ip` and counts it, or refuses it when
    /// that client already holds its limit.
    pub fn admit(&mut self, ip: IpAddr) -> bool {
        let n = self.counts.entry(ClientKey::of(ip)).or_insert(0);
        if self.per_client.is_some_and(|max| *n >= max) {
            if *n == 0 {
                self.counts.remove(&ClientKey::of(ip));
            }
            return false;
        }
        *n += 1;
        true
    }

    /// Forgets a connection from `ip` that ended.
    pub fn release(&mut self, ip: IpAddr) {
        let key = ClientKey::of(ip);
        if let Some(n) = self.counts.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.counts.remove(&key);
            }
        }
    }

    /// Connections `ip`'s client holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        self.counts.get(&ClientKey::of(ip)).copied().unwrap_or(0)
    }
}

/// The connection that gives way to a waiting one at the global limit:
/// the one idle (between requests) for the longest time, i.e. with the
/// earliest `since` (any ordered clock reading the caller keeps); `None`
/// when every connection is busy (the newcomer then waits in the backlog).
pub fn idle_victim<K: Copy, T: Ord>(idle: impl IntoIterator<Item = (K, T)>) -> Option<K> {
    idle.into_iter()
        .min_by(|a, b| a.1.cmp(&b.1))
        .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_limit() {
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let mut adm = Admission::new(Some(2));
        assert!(adm.admit(a) && adm.admit(a));
        assert!(!adm.admit(a), "third from the same client");
        assert!(adm.admit(b), "another client is not affected");
        adm.release(a);
        assert!(adm.admit(a));
        assert_eq!(adm.held(a), 2);
        // IPv4-mapped IPv6 is the same client; one IPv6 /64 is one client.
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert!(!adm.admit(mapped));
        let x: IpAddr = "2001:db8::1".parse().unwrap();
        let y: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let z: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert!(adm.admit(x) && adm.admit(y));
        assert!(!adm.admit(x));
        assert!(adm.admit(z), "another /64");
        let mut none = Admission::new(None);
        assert!((0..1000).all(|_| none.admit(a)));
    }

    #[test]
    fn longest_idle_gives_way() {
        assert_eq!(idle_victim([(1, 20u64), (2, 10), (3, 30)]), Some(2));
        assert_eq!(idle_victim(Vec::<(u8, u64)>::new()), None);
    }
}
