//! Remote IP classes for rate limits and reputation: IPv4 /32, /26, /21
//! and IPv6 /64, /48, /32, as mox does (ratelimit.maskIP).

use std::net::IpAddr;

/// Number of classes each address belongs to, narrowest first.
pub const CLASSES: usize = 3;

const V4_PREFIXES: [u8; CLASSES] = [32, 26, 21];
const V6_PREFIXES: [u8; CLASSES] = [64, 48, 32];

/// The address masked to the prefix of `class` (0 = narrowest).
pub fn masked(ip: IpAddr, class: usize) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = V4_PREFIXES[class.min(CLASSES - 1)];
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let bits = V6_PREFIXES[class.min(CLASSES - 1)];
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

/// All classes of an address, narrowest first.
pub fn classes(ip: IpAddr) -> [IpAddr; CLASSES] {
    [masked(ip, 0), masked(ip, 1), masked(ip, 2)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_classes() {
        let c = classes("192.0.2.77".parse().unwrap());
        assert_eq!(c[0].to_string(), "192.0.2.77");
        assert_eq!(c[1].to_string(), "192.0.2.64");
        assert_eq!(c[2].to_string(), "192.0.0.0");
    }

    #[test]
    fn v6_classes() {
        let c = classes("2001:db8:aaaa:bbbb:1:2:3:4".parse().unwrap());
        assert_eq!(c[0].to_string(), "2001:db8:aaaa:bbbb::");
        assert_eq!(c[1].to_string(), "2001:db8:aaaa::");
        assert_eq!(c[2].to_string(), "2001:db8::");
    }
}
