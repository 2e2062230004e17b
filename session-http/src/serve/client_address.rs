//! Which client a request comes from, when reverse proxies in front of the server say so.

use std::net::IpAddr;

use http::HeaderMap;

use super::IpRange;
use super::ip_range::any_contains;

/// The address of the client behind a request that came from `peer`, for what counts per
/// client (login throttling, per-client caps). A request from one of the `trusted_proxies`
/// counts against the address its proxy saw: the right-most entry of
/// `X-Forwarded-For` that is not itself a trusted proxy (entries to its left are whatever the
/// client chose to send, so they are never believed). Anything else, or a header that does
/// not parse, leaves `peer`. IPv4-mapped IPv6 addresses (a dual-stack listener's IPv4
/// clients) are compared as the IPv4 addresses they are.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpRange]) -> IpAddr {
    let peer = peer.to_canonical();
    let trusted = |ip: IpAddr| any_contains(trusted_proxies, ip);
    if !trusted(peer) {
        return peer;
    }
    let mut hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    while let Some(hop) = hops.pop() {
        match hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if trusted(ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn range(text: &str) -> IpRange {
        text.parse().unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn only_a_trusted_proxy_is_believed() {
        let h = forwarded("203.0.113.7");
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &[]),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &[range("127.0.0.1")]),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &h, &[range("127.0.0.1")]),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &h, &[range("127.0.0.1")]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_counts_and_forged_left_entries_do_not() {
        let proxies = [range("127.0.0.1"), range("10.0.0.0/24")];
        let h = forwarded("1.2.3.4, 203.0.113.7, 10.0.0.2, 10.0.0.9");
        assert_eq!(
            client_address(ip("127.0.0.1"), &h, &proxies),
            ip("203.0.113.7")
        );
        let garbage = forwarded("1.2.3.4, not-an-address");
        assert_eq!(
            client_address(ip("127.0.0.1"), &garbage, &proxies),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &HeaderMap::new(), &proxies),
            ip("127.0.0.1")
        );
    }
}
