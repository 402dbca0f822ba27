//! Connection hygiene shared by the listening front ends (milter, HTTP):
//! backing off when `accept` fails, logging such failures at a bounded
//! rate, and the descriptor limit a server can count on.

#[cfg(feature = "daemons")]
use std::time::{Duration, Instant};

/// Shortest pause after a failed `accept`.
#[cfg(feature = "daemons")]
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// Longest pause after repeated failed `accept`s.
#[cfg(feature = "daemons")]
const LONGEST_PAUSE: Duration = Duration::from_secs(1);
/// At most one accept-failure log line per this interval.
#[cfg(feature = "daemons")]
const LOG_EVERY: Duration = Duration::from_secs(5);

/// What a listener does when `accept` fails (descriptors exhausted, say):
/// pause, twice as long each time up to a second, instead of retrying at
/// once and burning a core; log the first failure and then at most one
/// line per five seconds with the number of failures in between.
#[derive(Debug, Default)]
#[cfg(feature = "daemons")]
pub struct AcceptBackoff {
    pause: Option<Duration>,
    last_log: Option<Instant>,
    unlogged: u64,
}

#[cfg(feature = "daemons")]
impl AcceptBackoff {
    /// A connection was accepted: the next failure starts from the shortest pause.
    pub fn accepted(&mut self) {
        self.pause = None;
    }

    /// `accept` failed with `error`: log (rate-limited) and pause.
    pub async fn failed(&mut self, error: &std::io::Error) {
        let pause = self.next_pause(error);
        tokio::time::sleep(pause).await;
    }

    /// Record a failure; returns how long to pause.
    fn next_pause(&mut self, error: &std::io::Error) -> Duration {
        let now = Instant::now();
        self.unlogged += 1;
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= LOG_EVERY)
        {
            tracing::warn!(error = %error, failures = self.unlogged, "accept failed; backing off");
            self.last_log = Some(now);
            self.unlogged = 0;
        }
        let pause = self
            .pause
            .map_or(FIRST_PAUSE, |p| (p * 2).min(LONGEST_PAUSE));
        self.pause = Some(pause);
        pause
    }
}

/// Raise this process's soft limit on open descriptors to its hard limit
/// (a server holding many connections needs more than the usual 1,024);
/// returns the soft limit now in force, if it could be read.
pub fn raise_descriptor_limit() -> Option<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        Some(lim.rlim_cur)
    }
}

/// An address or network (`192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parse `ADDRESS` or `ADDRESS/PREFIX`.
    pub fn parse(s: &str) -> Result<IpNet, String> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: std::net::IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("{s:?}: prefix must be 0 to {max}"))?,
        };
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` lies in this network (an IPv4-mapped IPv6 address
    /// counts as its IPv4 address).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let p = u32::from(self.prefix);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                p == 0 || (u32::from(n) ^ u32::from(a)) >> (32 - p) == 0
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                p == 0 || (u128::from(n) ^ u128::from(a)) >> (128 - p) == 0
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses() {
        let table = [
            ("10.0.0.0/8", "10.200.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("127.0.0.1", "::ffff:127.0.0.1", true),
            ("2001:db8::/32", "2001:db8:1::5", true),
            ("2001:db8::/32", "2001:db9::5", false),
            ("::1", "127.0.0.1", false),
        ];
        for (net, ip, want) in table {
            let n = IpNet::parse(net).expect("valid network");
            assert_eq!(
                n.contains(ip.parse().expect("valid ip")),
                want,
                "{net} {ip}"
            );
        }
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("example.org").is_err());
    }

    #[test]
    fn pauses_grow_to_a_second_and_reset_on_success() {
        let mut b = AcceptBackoff::default();
        let e = std::io::Error::other("too many open files");
        let pauses: Vec<Duration> = (0..12).map(|_| b.next_pause(&e)).collect();
        assert_eq!(pauses[0], FIRST_PAUSE);
        assert!(pauses.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*pauses.last().expect("pauses"), LONGEST_PAUSE);
        b.accepted();
        assert_eq!(b.next_pause(&e), FIRST_PAUSE);
    }

    #[test]
    fn descriptor_limit_is_readable() {
        assert!(raise_descriptor_limit().is_some_and(|n| n >= 64));
    }
}
