//! [`client_address`]: the address a request comes from, for the sign-in throttle.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (`server.trusted_proxies`), shared as app
/// data.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn trust(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }
}

/// The address the request comes from: the peer, or, when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` address that is not itself a trusted proxy (each proxy appends
/// the address it received the request from, so the addresses left of the last trusted hop
/// could be written by anyone). `None` when the peer is unknown.
pub fn client_address(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.trust(peer) {
        return Some(peer);
    }
    let mut hops = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    while let Some(hop) = hops.pop() {
        match hop.parse::<IpAddr>() {
            Ok(address) if trusted.trust(address) => client = address,
            Ok(address) => return Some(address),
            // A hop that is not an address cannot be believed; the last trusted hop is the
            // best we know.
            Err(_) => return Some(client),
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn from(peer: &str, xff: Option<&str>) -> TestRequest {
        let req = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        match xff {
            Some(v) => req.insert_header(("x-forwarded-for", v)),
            None => req,
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let spoofed = from("203.0.113.9", Some("198.51.100.1")).to_http_request();
        assert_eq!(
            client_address(&spoofed, &proxies),
            Some("203.0.113.9".parse().unwrap())
        );
        let proxied = from("10.1.2.3", Some("198.51.100.1")).to_http_request();
        assert_eq!(
            client_address(&proxied, &proxies),
            Some("198.51.100.1".parse().unwrap())
        );
        assert_eq!(
            client_address(&proxied, &TrustedProxies::default()),
            Some("10.1.2.3".parse().unwrap())
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let proxies = trusted(&["10.0.0.0/8", "192.168.1.1/32"]);
        // The client wrote 1.1.1.1 itself; 198.51.100.1 is what the first trusted proxy saw.
        let req = from("10.0.0.2", Some("1.1.1.1, 198.51.100.1, 192.168.1.1")).to_http_request();
        assert_eq!(
            client_address(&req, &proxies),
            Some("198.51.100.1".parse().unwrap())
        );
        let garbage = from("10.0.0.2", Some("not-an-address, 10.0.0.7")).to_http_request();
        assert_eq!(
            client_address(&garbage, &proxies),
            Some("10.0.0.7".parse().unwrap())
        );
        let none = from("10.0.0.2", None).to_http_request();
        assert_eq!(
            client_address(&none, &proxies),
            Some("10.0.0.2".parse().unwrap())
        );
    }
}
