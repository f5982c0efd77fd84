//! Fair use of connection slots: how many connections one client may hold
//! at once, and which connection gives way when all slots are taken.
//!
//! One client holding every slot denies service to everyone else for as
//! long as it likes (slow readers, idle keep-alive connections, a trickle
//! of requests). Two rules, as nginx and Apache learned them:
//! - a per-client limit, counted per IPv4 address and per IPv6 prefix
//!   ([`DEFAULT_IPV6_PREFIX`] bits unless configured: one host usually
//!   owns a whole /64, and a home or a small server is often delegated a
//!   /56, so a narrower prefix would let one host multiply itself);
//! - at the global limit, a waiting new connection takes the slot of the
//!   connection that has been idle between requests the longest, or, when
//!   none is idle, of the one that has been sending its request head (or
//!   TLS handshake) the longest: a connection serving a request is never
//!   taken.
//!
//! Pure bookkeeping: the drivers count, ask, and close what they are told.

use core::net::IpAddr;
use std::collections::HashMap;

/// The IPv6 prefix, in bits, that counts as one client by default: a /56,
/// the delegation RIPE recommends for a home, so a host cannot multiply
/// itself across its own addresses.
pub const DEFAULT_IPV6_PREFIX: u8 = 56;

/// Which client a peer address counts as: the IPv4 address (IPv4-mapped
/// IPv6 included), or a prefix of an IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey {
    v6: bool,
    bits: u128,
}

impl ClientKey {
    /// The key of `ip`, with IPv6 addresses cut to their first
    /// `v6_prefix` bits (at most 128).
    pub fn of(ip: IpAddr, v6_prefix: u8) -> ClientKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey {
                v6: false,
                bits: u128::from(u32::from(v4)),
            },
            IpAddr::V6(v6) => {
                let keep = u32::from(v6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - keep).unwrap_or(0);
                ClientKey {
                    v6: true,
                    bits: u128::from(v6) & mask,
                }
            }
        }
    }
}

/// Per-client connection counts against a limit.
#[derive(Debug, Clone)]
pub struct Admission {
    per_client: Option<usize>,
    v6_prefix: u8,
    counts: HashMap<ClientKey, usize>,
}

impl Admission {
    /// Counts with at most `per_client` connections per client (`None`:
    /// no limit), an IPv6 client being its first `v6_prefix` bits.
    pub fn new(per_client: Option<usize>, v6_prefix: u8) -> Admission {
        Admission {
            per_client,
            v6_prefix,
            counts: HashMap::new(),
        }
    }

    fn key(&self, ip: IpAddr) -> ClientKey {
        ClientKey::of(ip, self.v6_prefix)
    }

    /// Admits a new connection from `ip` and counts it, or refuses it when
    /// that client already holds its limit.
    pub fn admit(&mut self, ip: IpAddr) -> bool {
        let key = self.key(ip);
        let n = self.counts.entry(key).or_insert(0);
        if self.per_client.is_some_and(|max| *n >= max) {
            if *n == 0 {
                self.counts.remove(&key);
            }
            return false;
        }
        *n += 1;
        true
    }

    /// Forgets a connection from `ip` that ended.
    pub fn release(&mut self, ip: IpAddr) {
        let key = self.key(ip);
        if let Some(n) = self.counts.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.counts.remove(&key);
            }
        }
    }

    /// Connections `ip`'s client holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        self.counts.get(&self.key(ip)).copied().unwrap_or(0)
    }
}

/// What a connection is doing, for choosing which one gives way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Waiting between requests with nothing pending: gives way first.
    Idle,
    /// Receiving a request head (or its TLS handshake): gives way when
    /// no connection is idle.
    Head,
}

/// The connection that gives way to a waiting one at the global limit:
/// an idle one before one in its head, and within a phase the one in it
/// the longest, i.e. with the earliest `since` (any ordered clock reading
/// the caller keeps). Connections serving a request are not offered.
/// `None` when there is no candidate (the newcomer waits in the backlog).
pub fn victim<K: Copy, T: Ord>(candidates: impl IntoIterator<Item = (K, Phase, T)>) -> Option<K> {
    candidates
        .into_iter()
        .min_by(|a, b| (a.1, &a.2).cmp(&(b.1, &b.2)))
        .map(|(k, _, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_limit() {
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let mut adm = Admission::new(Some(2), 64);
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
        let mut none = Admission::new(None, DEFAULT_IPV6_PREFIX);
        assert!((0..1000).all(|_| none.admit(a)));
    }

    #[test]
    fn ipv6_clients_are_their_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let key = |s: &str, bits| ClientKey::of(ip(s), bits);
        // The default /56: one delegation is one client.
        let n = DEFAULT_IPV6_PREFIX;
        assert_eq!(key("2001:db8:0:1::1", n), key("2001:db8:0:ff::2", n));
        assert_ne!(key("2001:db8:0:100::1", n), key("2001:db8:0:ff::1", n));
        assert_eq!(key("2001:db8::1", 128), key("2001:db8::1", 128));
        assert_ne!(key("2001:db8::1", 128), key("2001:db8::2", 128));
        assert_ne!(key("2001:db8::", 128), key("2001:db8::1", 128));
        // Never the same as an IPv4 client, whatever the prefix.
        for bits in [0, 1, 32, 64, 127, 128, 200] {
            assert_ne!(key("::", bits), key("0.0.0.0", bits), "/{bits}");
            assert_ne!(key("::1", bits), key("0.0.0.1", bits), "/{bits}");
        }
        let mut adm = Admission::new(Some(1), n);
        assert!(adm.admit(ip("2001:db8:0:1::1")));
        assert!(!adm.admit(ip("2001:db8:0:2::1")), "same /56");
        assert!(adm.admit(ip("2001:db8:1::1")), "another /56");
    }

    #[test]
    fn idle_then_oldest_head_gives_way() {
        use Phase::*;
        assert_eq!(
            victim([(1, Idle, 20u64), (2, Idle, 10), (3, Head, 1)]),
            Some(2)
        );
        assert_eq!(victim([(1, Head, 20u64), (2, Head, 10)]), Some(2));
        assert_eq!(victim(Vec::<(u8, Phase, u64)>::new()), None);
    }
}
