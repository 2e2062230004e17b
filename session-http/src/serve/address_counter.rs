//! Counting what each client address holds, against a total cap and a per-address cap.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

/// Who a connection counts against: an IPv4 address, or the /64 network of an IPv6 address
/// (one IPv6 host usually owns a whole /64, so capping single IPv6 addresses would cap
/// nothing). An IPv4-mapped IPv6 address counts as its IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An IPv4 client.
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 client's address.
    V6Network(u64),
}

impl ClientKey {
    /// The key `ip` counts against.
    pub fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4),
                None => ClientKey::V6Network((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientKey::V4(v4) => write!(f, "{v4}"),
            ClientKey::V6Network(prefix) => {
                write!(f, "{}/64", Ipv6Addr::from_bits(u128::from(*prefix) << 64))
            }
        }
    }
}

/// Which cap a refused acquisition hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapReached {
    /// Everything together is at the total cap.
    #[error("the total cap is reached")]
    Total,
    /// This client address is at its own cap.
    #[error("the cap for one client address is reached")]
    PerAddress,
}

/// The counts, as a pure decision: no locking, no I/O.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_key: HashMap<ClientKey, usize>,
}

impl Counts {
    /// Takes one for `key` if both caps allow it.
    fn acquire(
        &mut self,
        key: ClientKey,
        max_total: usize,
        max_per_key: usize,
    ) -> Result<(), CapReached> {
        if self.total >= max_total {
            return Err(CapReached::Total);
        }
        let held = self.per_key.entry(key).or_insert(0);
        if *held >= max_per_key {
            return Err(CapReached::PerAddress);
        }
        *held += 1;
        self.total += 1;
        Ok(())
    }

    /// Gives one back for `key`; a key holding nothing is forgotten.
    fn release(&mut self, key: ClientKey) {
        if let Some(held) = self.per_key.get_mut(&key) {
            *held -= 1;
            self.total -= 1;
            if *held == 0 {
                self.per_key.remove(&key);
            }
        }
    }
}

/// A shared counter of what client addresses hold (connections, LysKOM sessions …) with a
/// total cap and a cap per [`ClientKey`]. Cheap to clone; clones share the counts.
#[derive(Clone)]
pub struct AddressCounter {
    shared: Arc<Shared>,
}

struct Shared {
    counts: Mutex<Counts>,
    max_total: usize,
    max_per_address: usize,
}

impl fmt::Debug for AddressCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressCounter")
            .field("held", &self.held())
            .field("max_total", &self.shared.max_total)
            .field("max_per_address", &self.shared.max_per_address)
            .finish()
    }
}

impl AddressCounter {
    /// A counter allowing `max_total` in all and `max_per_address` for one client address.
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        AddressCounter {
            shared: Arc::new(Shared {
                counts: Mutex::new(Counts::default()),
                max_total,
                max_per_address,
            }),
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.shared.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one for the client at `ip`; it is given back when the permit is dropped.
    pub fn acquire(&self, ip: IpAddr) -> Result<AddressPermit, CapReached> {
        self.acquire_under(ip, self.shared.max_per_address)
    }

    /// Takes one for `ip` under the total cap alone: for an address that stands for many
    /// clients (a trusted reverse proxy).
    pub fn acquire_within_total(&self, ip: IpAddr) -> Result<AddressPermit, CapReached> {
        self.acquire_under(ip, usize::MAX)
    }

    fn acquire_under(
        &self,
        ip: IpAddr,
        max_per_address: usize,
    ) -> Result<AddressPermit, CapReached> {
        let key = ClientKey::of(ip);
        self.counts()
            .acquire(key, self.shared.max_total, max_per_address)?;
        Ok(AddressPermit {
            counter: self.clone(),
            key,
        })
    }

    /// How many are held in all.
    pub fn held(&self) -> usize {
        self.counts().total
    }

    /// How many the client at `ip` holds.
    pub fn held_by(&self, ip: IpAddr) -> usize {
        self.counts()
            .per_key
            .get(&ClientKey::of(ip))
            .copied()
            .unwrap_or(0)
    }
}

/// One unit held by a client address; dropping it gives it back.
pub struct AddressPermit {
    counter: AddressCounter,
    key: ClientKey,
}

impl AddressPermit {
    /// The client address it counts against.
    pub fn key(&self) -> ClientKey {
        self.key
    }
}

impl fmt::Debug for AddressPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressPermit")
            .field("key", &self.key)
            .finish()
    }
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        self.counter.counts().release(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(last: u8) -> ClientKey {
        ClientKey::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    #[test]
    fn an_address_at_its_cap_does_not_block_another() {
        let mut counts = Counts::default();
        assert_eq!(counts.acquire(v4(1), 10, 2), Ok(()));
        assert_eq!(counts.acquire(v4(1), 10, 2), Ok(()));
        assert_eq!(counts.acquire(v4(1), 10, 2), Err(CapReached::PerAddress));
        assert_eq!(counts.acquire(v4(2), 10, 2), Ok(()));
        assert_eq!(counts.total, 3);
    }

    #[test]
    fn the_total_cap_holds_across_addresses() {
        let mut counts = Counts::default();
        assert_eq!(counts.acquire(v4(1), 2, 5), Ok(()));
        assert_eq!(counts.acquire(v4(2), 2, 5), Ok(()));
        assert_eq!(counts.acquire(v4(3), 2, 5), Err(CapReached::Total));
        counts.release(v4(1));
        assert_eq!(counts.acquire(v4(3), 2, 5), Ok(()));
    }

    #[test]
    fn released_addresses_are_forgotten_and_unknown_releases_ignored() {
        let mut counts = Counts::default();
        assert_eq!(counts.acquire(v4(1), 2, 2), Ok(()));
        counts.release(v4(1));
        counts.release(v4(1));
        counts.release(v4(9));
        assert_eq!(counts.total, 0);
        assert!(counts.per_key.is_empty());
    }

    #[test]
    fn permits_give_back_when_dropped() {
        let counter = AddressCounter::new(3, 1);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let permit = counter.acquire(ip).unwrap();
        assert_eq!(counter.acquire(ip).unwrap_err(), CapReached::PerAddress);
        assert_eq!(counter.held_by(ip), 1);
        drop(permit);
        assert_eq!(counter.held(), 0);
        assert!(counter.acquire(ip).is_ok());
    }

    #[test]
    fn ipv6_counts_per_64_network_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(c));
        assert_eq!(ClientKey::of(a).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(ClientKey::of(mapped), v4(1));
    }
}
