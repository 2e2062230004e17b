//! An address or a network of addresses, as reverse proxies are listed: `203.0.113.7`,
//! `10.0.0.0/8`, `2001:db8::/32`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// One IP address, or a network in CIDR notation. IPv4-mapped IPv6 addresses (a dual-stack
/// listener's IPv4 clients) belong to a range as the IPv4 addresses they are.
///
/// ```
/// use session_http::serve::IpRange;
///
/// let pool: IpRange = "10.0.0.0/8".parse()?;
/// assert!(pool.contains("10.1.2.3".parse()?));
/// assert!(pool.contains("::ffff:10.1.2.3".parse()?));
/// assert!(!pool.contains("192.0.2.1".parse()?));
/// let one: IpRange = "192.0.2.1".parse()?;
/// assert_eq!(one.to_string(), "192.0.2.1/32");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpRange {
    /// The network's first address (host bits cleared), never IPv4-mapped.
    network: IpAddr,
    /// How many leading bits an address must share with `network`.
    prefix: u8,
}

/// Why a text is not an [`IpRange`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an IP address or a network (ADDRESS/PREFIX-LENGTH)")]
pub struct IpRangeError {
    text: String,
}

impl IpRange {
    /// The range of the addresses sharing the first `prefix` bits of `address`; `None` when
    /// `prefix` is longer than the address (32 bits for IPv4, 128 for IPv6).
    pub fn new(address: IpAddr, prefix: u8) -> Option<IpRange> {
        let address = address.to_canonical();
        (prefix <= bits(address)).then(|| IpRange {
            network: masked(address, prefix),
            prefix,
        })
    }

    /// Whether `address` is in the range.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        address.is_ipv4() == self.network.is_ipv4() && masked(address, self.prefix) == self.network
    }
}

/// Whether any of `ranges` holds `address`.
pub(super) fn any_contains(ranges: &[IpRange], address: IpAddr) -> bool {
    ranges.iter().any(|r| r.contains(address))
}

/// The address's length in bits.
fn bits(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `address` with all but its first `prefix` bits cleared (`prefix` at most its length).
fn masked(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from_bits(v4.to_bits() & keep))
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & keep))
        }
    }
}

/// A single address is the range of just itself.
impl From<IpAddr> for IpRange {
    fn from(address: IpAddr) -> Self {
        let address = address.to_canonical();
        IpRange {
            network: address,
            prefix: bits(address),
        }
    }
}

impl FromStr for IpRange {
    type Err = IpRangeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || IpRangeError {
            text: text.to_owned(),
        };
        match text.split_once('/') {
            None => text
                .parse::<IpAddr>()
                .map(IpRange::from)
                .map_err(|_| invalid()),
            Some((address, prefix)) => {
                let address = address.parse::<IpAddr>().map_err(|_| invalid())?;
                // Digits only: `u8::from_str` would take a sign.
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                let prefix = prefix.parse::<u8>().map_err(|_| invalid())?;
                IpRange::new(address, prefix).ok_or_else(invalid)
            }
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn range(text: &str) -> IpRange {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_and_single_addresses() {
        let pool = range("10.0.0.0/8");
        assert!(pool.contains(ip("10.0.0.0")) && pool.contains(ip("10.255.255.255")));
        assert!(!pool.contains(ip("11.0.0.0")) && !pool.contains(ip("9.255.255.255")));
        assert!(pool.contains(ip("::ffff:10.9.8.7")), "IPv4-mapped");
        assert!(
            !pool.contains(ip("::a00:1")),
            "an IPv6 address is not an IPv4 one"
        );
        let host = range("127.0.0.1");
        assert!(host.contains(ip("127.0.0.1")) && !host.contains(ip("127.0.0.2")));
        let v6 = range("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(range("0.0.0.0/0").contains(ip("203.0.113.7")));
        assert!(!range("0.0.0.0/0").contains(ip("2001:db8::1")));
        // Host bits are cleared, as `ip route` does.
        assert_eq!(range("10.1.2.3/8"), pool);
        assert_eq!(range("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(range("::ffff:192.0.2.1").to_string(), "192.0.2.1/32");
    }

    #[test]
    fn malformed_ranges_are_refused() {
        for text in [
            "",
            "/",
            "10.0.0.0/",
            "/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0/8",
            "10.0.0.0/8/8",
            "example.com",
            " 10.0.0.1",
            "10.0.0.0/ 8",
        ] {
            assert!(text.parse::<IpRange>().is_err(), "{text:?}");
        }
    }

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|b| IpAddr::V4(Ipv4Addr::from_bits(b))),
            any::<u128>().prop_map(|b| IpAddr::V6(Ipv6Addr::from_bits(b))),
        ]
    }

    proptest! {
        /// A range holds exactly the addresses that agree with its network on the prefix's
        /// bits, and its text form reads back as itself.
        #[test]
        fn membership_is_agreement_on_the_prefix(
            network in any_ip(),
            other in any_ip(),
            prefix in 0u8..=128,
        ) {
            let network = network.to_canonical();
            let width = bits(network);
            let prefix = prefix % (width + 1);
            let r = IpRange::new(network, prefix).unwrap();
            prop_assert!(r.contains(network));
            prop_assert_eq!(r.to_string().parse::<IpRange>().unwrap(), r);
            let other = other.to_canonical();
            let agrees = match (network, other) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    prefix == 0 || (a.to_bits() ^ b.to_bits()) >> (32 - u32::from(prefix)) == 0
                }
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    prefix == 0 || (a.to_bits() ^ b.to_bits()) >> (128 - u32::from(prefix)) == 0
                }
                _ => false,
            };
            prop_assert_eq!(r.contains(other), agrees);
        }
    }
}
