//! Reputation filters: a Bloom filter of normalised identities in a
//! versioned, checksummed file that operators build, merge and share.
//!
//! File layout (little-endian): magic `SSREPUT\0`, format version, kind,
//! keyed flag, target false-positive rate, item count, creation time (Unix
//! seconds), key check, IPv4 and IPv6 prefix-length bitmaps, domain-depth
//! bitmap (version 2; absent in version 1), number of hash functions,
//! source label, the Bloom filter's bit words, CRC-32 of all
//! before it. The Bloom filter is fastbloom 0.17's (pinned: its layout is
//! part of this format).
//!
//! With a key, items are hashed with HMAC-SHA256 under the key before
//! insertion: partners holding the key can query, nobody can enumerate or
//! test items without it, and a wrong key is detected by the key check.

use super::identity::{Kind, Net, normalise_item, parse_net};
use fastbloom::BloomFilter;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::path::Path;
use xxhash_rust::xxh3::xxh3_64_with_seed;

const MAGIC: &[u8; 8] = b"SSREPUT\0";
/// File format version.
pub const FORMAT_VERSION: u32 = 2;
/// Oldest file format version still read (version 1 has no domain depths).
pub const OLDEST_FORMAT_VERSION: u32 = 1;
/// `domain_depths` when unknown (version 1 files): every depth may be listed.
const ALL_DEPTHS: u64 = u64::MAX;
const SEED: u64 = 0x5351_5349_4654_0001;
/// Nominal rate asked of fastbloom, as a share of the target.
const SIZING: f64 = 0.75;

/// A reputation filter problem.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a filter, truncated, corrupted, wrong kind or key, incompatible.
    #[error("{path}: {why}")]
    Invalid {
        /// File (or filters) concerned.
        path: String,
        /// What is wrong.
        why: String,
    },
}

fn invalid(path: &str, why: impl Into<String>) -> FilterError {
    FilterError::Invalid {
        path: path.to_string(),
        why: why.into(),
    }
}

/// A loaded or freshly built reputation filter.
#[derive(Debug, Clone)]
pub struct ReputationFilter {
    kind: Kind,
    fp_rate: f64,
    items: u64,
    created: u64,
    label: String,
    key_check: Option<u64>,
    /// The HMAC keyed once at load, cloned per item.
    key: Option<Keyed>,
    v4_prefixes: u64,
    v6_prefixes: [u64; 3],
    /// Bit `n` set: some listed domain has `n` labels (63 and more share
    /// bit 63). Lookups skip parents of depths nobody listed, which saves
    /// most Bloom probes (each a likely cache miss) for URL hosts.
    domain_depths: u64,
    bloom: BloomFilter,
}

/// One normalised identity to look up (see [`ReputationFilter::lookup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// An address, matched by every listed prefix holding it.
    Ip(IpAddr),
    /// A normalised domain, matched with its parents.
    Domain(&'a str),
    /// A normalised item of the filter's kind (email, phone, account).
    Item(&'a str),
}

/// The `domain_depths` bit of a domain.
fn depth_bit(domain: &str) -> u64 {
    let labels = domain.bytes().filter(|&b| b == b'.').count() + 1;
    1 << labels.min(63)
}

/// What `reputation info` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FilterInfo {
    /// Kind listed.
    pub kind: Kind,
    /// Items inserted (for merged filters, the sum).
    pub items: u64,
    /// Target false-positive rate it was sized for.
    pub fp_rate: f64,
    /// Expected false-positive rate at the current fill.
    pub expected_fp_rate: f64,
    /// Bits in the filter.
    pub bits: usize,
    /// Hash functions.
    pub hashes: u32,
    /// Items are keyed (HMAC).
    pub keyed: bool,
    /// Source label.
    pub label: String,
    /// Creation time, Unix seconds.
    pub created: u64,
}

fn key_check(key: &[u8]) -> u64 {
    let d = Sha256::new()
        .chain_update(b"spamsift reputation key check\0")
        .chain_update(key)
        .finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// IP networks are hashed in binary (family, prefix length, address) so a
/// lookup needs no formatting or allocation.
fn net_bytes(net: &Net, out: &mut [u8; 18]) -> usize {
    out[1] = net.prefix;
    match net.addr {
        IpAddr::V4(a) => {
            out[0] = 4;
            out[2..6].copy_from_slice(&a.octets());
            6
        }
        IpAddr::V6(a) => {
            out[0] = 6;
            out[2..18].copy_from_slice(&a.octets());
            18
        }
    }
}

/// HMAC-SHA256 with the key schedule done once.
#[derive(Clone)]
struct Keyed(Hmac<Sha256>);

impl std::fmt::Debug for Keyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyed(..)")
    }
}

impl Keyed {
    fn new(key: &[u8]) -> Option<Keyed> {
        Hmac::<Sha256>::new_from_slice(key).ok().map(Keyed)
    }
}

fn net_hash(kind: Kind, net: &Net, key: Option<&Keyed>) -> u64 {
    let mut buf = [0u8; 18];
    let n = net_bytes(net, &mut buf);
    bytes_hash(kind, &buf[..n], key)
}

fn item_hash(kind: Kind, item: &str, key: Option<&Keyed>) -> u64 {
    match ip_item(kind, item) {
        Some(net) => net_hash(kind, &net, key),
        None => bytes_hash(kind, item.as_bytes(), key),
    }
}

/// The network an IP or URL-host item names; host names are not parsed
/// (they hold letters beyond `a-f`, which no address or prefix has).
fn ip_item(kind: Kind, item: &str) -> Option<Net> {
    let ip_chars =
        |b: u8| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'/') || b.is_ascii_whitespace();
    if matches!(kind, Kind::Ip | Kind::UrlHost) && item.bytes().all(ip_chars) {
        parse_net(item).ok()
    } else {
        None
    }
}

fn bytes_hash(kind: Kind, item: &[u8], key: Option<&Keyed>) -> u64 {
    match key {
        None => xxh3_64_with_seed(item, SEED ^ kind.code() as u64),
        Some(Keyed(prepared)) => {
            let mut mac = prepared.clone();
            mac.update(&[kind.code()]);
            mac.update(item);
            let d = mac.finalize().into_bytes();
            u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Collects the items of a filter being built without keeping them: each
/// is hashed (with the key, if any) as it is added, so a list of any length
/// costs 8 bytes per item until [`finish`](FilterBuilder::finish).
#[derive(Debug)]
pub struct FilterBuilder {
    kind: Kind,
    keyed: Option<Keyed>,
    key_check: Option<u64>,
    hashes: Vec<u64>,
    v4_prefixes: u64,
    v6_prefixes: [u64; 3],
    domain_depths: u64,
}

impl FilterBuilder {
    /// A builder for a filter of `kind`, keyed when `key` is given.
    pub fn new(kind: Kind, key: Option<&[u8]>) -> FilterBuilder {
        FilterBuilder {
            kind,
            keyed: key.and_then(Keyed::new),
            key_check: key.map(key_check),
            hashes: Vec::new(),
            v4_prefixes: 0,
            v6_prefixes: [0; 3],
            domain_depths: 0,
        }
    }

    /// Add one normalised item (see [`normalise_item`]).
    pub fn add(&mut self, item: &str) {
        let key = self.keyed.as_ref();
        let hash = match ip_item(self.kind, item) {
            Some(net) => {
                let p = net.prefix as usize;
                if net.addr.is_ipv4() {
                    self.v4_prefixes |= 1 << p
                } else {
                    self.v6_prefixes[p / 64] |= 1 << (p % 64)
                }
                net_hash(self.kind, &net, key)
            }
            None => {
                self.domain_depths |= depth_bit(item);
                bytes_hash(self.kind, item.as_bytes(), key)
            }
        };
        self.hashes.push(hash);
    }

    /// The filter, sized for the distinct items added (or `capacity`, when
    /// larger: filters to be merged must share `fp_rate` and `capacity`).
    pub fn finish(
        mut self,
        fp_rate: f64,
        capacity: Option<usize>,
        label: &str,
    ) -> Result<ReputationFilter, String> {
        if !(fp_rate > 0.0 && fp_rate < 1.0) {
            return Err(format!(
                "false-positive rate must be between 0 and 1, got {fp_rate}"
            ));
        }
        self.hashes.sort_unstable();
        self.hashes.dedup();
        let items = self.hashes.len();
        // Sized for a little under the target: fastbloom's sizing measures
        // about 1.3x the nominal rate (see benches/reputation.rs).
        let mut bloom = BloomFilter::with_false_pos(fp_rate * SIZING)
            .expected_items(capacity.unwrap_or(items).max(items).max(1));
        for &h in &self.hashes {
            bloom.insert_hash(h);
        }
        Ok(ReputationFilter {
            kind: self.kind,
            fp_rate,
            items: items as u64,
            created: now(),
            label: label.to_string(),
            key_check: self.key_check,
            key: self.keyed,
            v4_prefixes: self.v4_prefixes,
            v6_prefixes: self.v6_prefixes,
            domain_depths: self.domain_depths,
            bloom,
        })
    }
}

impl ReputationFilter {
    /// Build from normalised items (see [`normalise_item`]), sized for them.
    pub fn build(
        kind: Kind,
        fp_rate: f64,
        items: &[String],
        label: &str,
        key: Option<&[u8]>,
    ) -> Result<ReputationFilter, String> {
        ReputationFilter::build_with_capacity(kind, fp_rate, items.len(), items, label, key)
    }

    /// Build sized for `capacity` items (filters to be merged must share
    /// `fp_rate` and `capacity`).
    pub fn build_with_capacity(
        kind: Kind,
        fp_rate: f64,
        capacity: usize,
        items: &[String],
        label: &str,
        key: Option<&[u8]>,
    ) -> Result<ReputationFilter, String> {
        let mut builder = FilterBuilder::new(kind, key);
        for item in items {
            builder.add(item);
        }
        builder.finish(fp_rate, Some(capacity), label)
    }

    /// The kind listed.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Facts about the filter.
    pub fn info(&self) -> FilterInfo {
        let bits = self.bloom.num_bits();
        let density =
            fastbloom::expected_density(self.bloom.num_hashes(), bits, self.items as usize);
        FilterInfo {
            kind: self.kind,
            items: self.items,
            fp_rate: self.fp_rate,
            expected_fp_rate: fastbloom::expected_false_pos(self.bloom.num_hashes(), density),
            bits,
            hashes: self.bloom.num_hashes(),
            keyed: self.key_check.is_some(),
            label: self.label.clone(),
            created: self.created,
        }
    }

    /// Whether an already normalised item (see [`normalise_item`]) is listed.
    pub fn contains_item(&self, item: &str) -> bool {
        self.has(item)
    }

    fn has(&self, item: &str) -> bool {
        self.bloom
            .contains_hash(item_hash(self.kind, item, self.key.as_ref()))
    }

    /// Whether an IP address is listed (itself or any listed prefix holding it).
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        self.listed_prefixes(ip).any(|p| {
            let net = Net::of(ip, p);
            self.bloom
                .contains_hash(net_hash(self.kind, &net, self.key.as_ref()))
        })
    }

    /// Whether a (normalised) domain or any parent down to its registrable domain is listed.
    pub fn contains_domain(&self, domain: &str) -> bool {
        let listed = |d: &str| self.domain_depths & depth_bit(d) != 0 && self.has(d);
        if listed(domain) {
            return true;
        }
        // Parents have fewer labels: skip the public suffix lookup when no
        // listed domain is that shallow.
        let parent_depths = depth_bit(domain).wrapping_sub(1) & !0b11;
        if self.domain_depths & parent_depths == 0 {
            return false;
        }
        // Parents down to the registrable domain, without collecting them.
        let registrable = psl::domain_str(domain).map_or(domain.len(), str::len);
        let mut d = domain;
        while d.len() > registrable {
            match d.split_once('.') {
                Some((_, parent)) if listed(parent) => return true,
                Some((_, parent)) => d = parent,
                None => break,
            }
        }
        false
    }

    /// Whether a normalised identity is listed.
    pub fn lookup(&self, what: Lookup<'_>) -> bool {
        match what {
            Lookup::Ip(ip) => self.contains_ip(ip),
            Lookup::Domain(d) => self.contains_domain(d),
            Lookup::Item(i) => self.has(i),
        }
    }

    /// The prefix lengths listed for the address family of `ip`, longest
    /// first (set bits of the prefix masks; most filters list one or two).
    fn listed_prefixes(&self, ip: IpAddr) -> impl Iterator<Item = u8> {
        let words: [(u64, u8); 3] = match ip {
            IpAddr::V4(_) => [(self.v4_prefixes & ((1 << 33) - 1), 0), (0, 0), (0, 0)],
            IpAddr::V6(_) => [
                (self.v6_prefixes[2] & 1, 128),
                (self.v6_prefixes[1], 64),
                (self.v6_prefixes[0], 0),
            ],
        };
        words.into_iter().flat_map(|(mut bits, base)| {
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let top = 63 - bits.leading_zeros() as u8;
                    bits &= !(1 << top);
                    base + top
                })
            })
        })
    }

    /// Whether a raw identity of this filter's kind is listed (normalised first).
    pub fn contains(&self, raw: &str, default_country: &str) -> bool {
        match self.kind {
            Kind::Ip => raw.trim().parse().is_ok_and(|ip| self.contains_ip(ip)),
            Kind::Domain => {
                super::identity::normalise_domain(raw).is_ok_and(|d| self.contains_domain(&d))
            }
            Kind::UrlHost => match raw
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                Ok(ip) => self.contains_ip(ip),
                Err(_) => {
                    super::identity::normalise_domain(raw).is_ok_and(|d| self.contains_domain(&d))
                }
            },
            k => normalise_item(k, raw, default_country).is_ok_and(|i| self.has(&i)),
        }
    }

    /// Union with another filter built with the same parameters and key.
    pub fn merge(&mut self, other: &ReputationFilter, other_name: &str) -> Result<(), FilterError> {
        let why = if self.kind != other.kind {
            Some(format!(
                "kind {} cannot merge with kind {}",
                other.kind, self.kind
            ))
        } else if self.bloom.num_bits() != other.bloom.num_bits()
            || self.bloom.num_hashes() != other.bloom.num_hashes()
        {
            Some(format!(
                "Bloom parameters differ ({} bits, {} hashes vs {} bits, {} hashes): build both with the same --fp-rate and a size for the merged item count",
                other.bloom.num_bits(),
                other.bloom.num_hashes(),
                self.bloom.num_bits(),
                self.bloom.num_hashes()
            ))
        } else if self.key_check != other.key_check {
            Some("filters were built with different keys (or one without a key)".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            return Err(invalid(other_name, why));
        }
        self.bloom.union(&other.bloom);
        self.items += other.items;
        self.v4_prefixes |= other.v4_prefixes;
        for i in 0..3 {
            self.v6_prefixes[i] |= other.v6_prefixes[i];
        }
        self.domain_depths |= other.domain_depths;
        if !other.label.is_empty() && self.label != other.label {
            self.label = if self.label.is_empty() {
                other.label.clone()
            } else {
                format!("{}+{}", self.label, other.label)
            };
        }
        self.created = now();
        Ok(())
    }

    /// Serialise to the file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let words = self.bloom.as_slice();
        let mut b = Vec::with_capacity(96 + self.label.len() + words.len() * 8);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        b.push(self.kind.code());
        b.push(u8::from(self.key_check.is_some()));
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.fp_rate.to_le_bytes());
        b.extend_from_slice(&self.items.to_le_bytes());
        b.extend_from_slice(&self.created.to_le_bytes());
        b.extend_from_slice(&self.key_check.unwrap_or(0).to_le_bytes());
        b.extend_from_slice(&self.v4_prefixes.to_le_bytes());
        for w in self.v6_prefixes {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&self.domain_depths.to_le_bytes());
        b.extend_from_slice(&self.bloom.num_hashes().to_le_bytes());
        b.extend_from_slice(&(self.label.len() as u32).to_le_bytes());
        b.extend_from_slice(self.label.as_bytes());
        b.extend_from_slice(&(words.len() as u64).to_le_bytes());
        for w in words {
            b.extend_from_slice(&w.to_le_bytes());
        }
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parse a filter file; `key` must match the one it was built with.
    pub fn from_bytes(
        path: &str,
        b: &[u8],
        key: Option<&[u8]>,
    ) -> Result<ReputationFilter, FilterError> {
        let mut r = Reader { b, pos: 0, path };
        if b.len() < 8 || &b[..8] != MAGIC {
            return Err(invalid(
                path,
                "not a spamsift reputation filter (bad magic)",
            ));
        }
        if b.len() < 12
            || crc32fast::hash(&b[..b.len() - 4])
                != u32::from_le_bytes([
                    b[b.len() - 4],
                    b[b.len() - 3],
                    b[b.len() - 2],
                    b[b.len() - 1],
                ])
        {
            return Err(invalid(
                path,
                "checksum mismatch: the file is truncated or corrupted",
            ));
        }
        r.pos = 8;
        let version = r.u32()?;
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(invalid(
                path,
                format!(
                    "filter format version {version}, this spamsift reads \
                     {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}"
                ),
            ));
        }
        let kind =
            Kind::from_code(r.u8()?).ok_or_else(|| invalid(path, "unknown identity kind"))?;
        let keyed = r.u8()? == 1;
        r.take(2)?;
        let fp_rate = f64::from_le_bytes(r.take(8)?.try_into().unwrap_or([0; 8]));
        let items = r.u64()?;
        let created = r.u64()?;
        let check = r.u64()?;
        let v4 = r.u64()?;
        let v6 = [r.u64()?, r.u64()?, r.u64()?];
        let depths = if version >= 2 { r.u64()? } else { ALL_DEPTHS };
        let hashes = r.u32()?;
        let label_len = r.u32()? as usize;
        let label = String::from_utf8_lossy(r.take(label_len)?).into_owned();
        let n = r.u64()? as usize;
        if n == 0 || hashes == 0 || n.checked_mul(8).is_none_or(|x| r.pos + x + 4 != b.len()) {
            return Err(invalid(path, "inconsistent sizes: truncated or corrupted"));
        }
        let words: Vec<u64> = r
            .take(n * 8)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        match (keyed, key) {
            (true, None) => {
                return Err(invalid(
                    path,
                    "this filter is keyed: pass the shared key (--key FILE / key = ...)",
                ));
            }
            (false, Some(_)) => {
                return Err(invalid(
                    path,
                    "this filter is not keyed, but a key was given",
                ));
            }
            (true, Some(k)) if key_check(k) != check => {
                return Err(invalid(path, "wrong key for this filter"));
            }
            _ => {}
        }
        Ok(ReputationFilter {
            kind,
            fp_rate,
            items,
            created,
            label,
            key_check: keyed.then_some(check),
            key: if keyed {
                key.and_then(Keyed::new)
            } else {
                None
            },
            v4_prefixes: v4,
            v6_prefixes: v6,
            domain_depths: depths,
            bloom: BloomFilter::from_vec(words).hashes(hashes),
        })
    }

    /// Read a filter file.
    pub fn load(path: &Path, key: Option<&[u8]>) -> Result<ReputationFilter, FilterError> {
        let p = path.display().to_string();
        let b = std::fs::read(path).map_err(|source| FilterError::Io {
            path: p.clone(),
            source,
        })?;
        ReputationFilter::from_bytes(&p, &b, key)
    }

    /// Write atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::fsutil::write_atomic(path, &self.to_bytes())
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    path: &'a str,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], FilterError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len().saturating_sub(4))
            .ok_or_else(|| invalid(self.path, "truncated"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, FilterError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, FilterError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or([0; 4]),
        ))
    }
    fn u64(&mut self) -> Result<u64, FilterError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or([0; 8]),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(kind: Kind, v: &[&str]) -> Vec<String> {
        v.iter()
            .map(|s| normalise_item(kind, s, "44").expect("valid item"))
            .collect()
    }

    #[test]
    fn reads_version_1_files_without_domain_depths() {
        let f = ReputationFilter::build(
            Kind::Domain,
            0.001,
            &items(Kind::Domain, &["spam.example", "a.b.c.example.org"]),
            "t",
            None,
        )
        .expect("builds");
        assert!(f.contains_domain("x.spam.example") && f.contains_domain("a.b.c.example.org"));
        assert!(
            !f.contains_domain("b.c.example.org"),
            "depth 3 was never listed"
        );
        // The same filter as version 1 wrote it: no depths field after the
        // IPv6 prefixes (bytes 80..88), so every depth is looked up.
        let v2 = f.to_bytes();
        let mut v1 = [
            &v2[..8],
            &1u32.to_le_bytes(),
            &v2[12..80],
            &v2[88..v2.len() - 4],
        ]
        .concat();
        v1.extend_from_slice(&crc32fast::hash(&v1).to_le_bytes());
        let old = ReputationFilter::from_bytes("v1", &v1, None).expect("valid bytes");
        assert!(old.contains_domain("x.spam.example") && old.contains_domain("a.b.c.example.org"));
        let mut v3 = v2.clone();
        v3[8] = 3;
        let n = v3.len();
        let crc = crc32fast::hash(&v3[..n - 4]).to_le_bytes();
        v3[n - 4..].copy_from_slice(&crc);
        let err = ReputationFilter::from_bytes("v3", &v3, None).unwrap_err();
        assert!(err.to_string().contains("version 3"), "{err}");
    }

    #[test]
    fn cidr_and_parent_domains() {
        let f = ReputationFilter::build(
            Kind::Ip,
            0.001,
            &items(Kind::Ip, &["203.0.113.0/24", "198.51.100.7"]),
            "t",
            None,
        )
        .expect("builds");
        assert!(f.contains_ip("203.0.113.200".parse().expect("valid literal")));
        assert!(f.contains_ip("198.51.100.7".parse().expect("valid literal")));
        assert!(!f.contains_ip("198.51.100.8".parse().expect("valid literal")));
        let d = ReputationFilter::build(
            Kind::Domain,
            0.001,
            &items(Kind::Domain, &["spam.example.com"]),
            "t",
            None,
        )
        .expect("builds");
        assert!(d.contains("mail.spam.example.com", ""));
        assert!(!d.contains("example.com", ""));
    }

    #[test]
    fn round_trip_keys_and_corruption() {
        let list = items(Kind::Phone, &["09061701461", "+447700900999"]);
        let f = ReputationFilter::build(Kind::Phone, 0.01, &list, "feed", Some(b"secret"))
            .expect("builds");
        let b = f.to_bytes();
        let g = ReputationFilter::from_bytes("f", &b, Some(b"secret")).expect("valid bytes");
        assert!(g.contains("0906 170 1461", "44"));
        assert!(
            ReputationFilter::from_bytes("f", &b, Some(b"other"))
                .unwrap_err()
                .to_string()
                .contains("wrong key")
        );
        assert!(
            ReputationFilter::from_bytes("f", &b, None)
                .unwrap_err()
                .to_string()
                .contains("keyed")
        );
        assert!(ReputationFilter::from_bytes("f", &b[..b.len() - 9], Some(b"secret")).is_err());
        let mut bad = b.clone();
        bad[40] ^= 0xff;
        assert!(
            ReputationFilter::from_bytes("f", &bad, Some(b"secret"))
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        assert!(
            ReputationFilter::from_bytes("f", b"junk", None)
                .unwrap_err()
                .to_string()
                .contains("not a spamsift")
        );
    }

    #[test]
    fn merge_checks_compatibility() {
        let a_items = items(Kind::Domain, &["a.example"]);
        let b_items = items(Kind::Domain, &["b.example"]);
        let mut a =
            ReputationFilter::build(Kind::Domain, 0.01, &a_items, "a", None).expect("builds");
        let b = ReputationFilter::build(Kind::Domain, 0.01, &b_items, "b", None).expect("builds");
        a.merge(&b, "b").expect("filters merge");
        assert!(a.contains("a.example", "") && a.contains("b.example", ""));
        let ip = ReputationFilter::build(Kind::Ip, 0.01, &items(Kind::Ip, &["1.2.3.4"]), "", None)
            .expect("builds");
        assert!(a.merge(&ip, "ip").unwrap_err().to_string().contains("kind"));
        let big = ReputationFilter::build(
            Kind::Domain,
            0.01,
            &(0..5000)
                .map(|i| format!("d{i}.example"))
                .collect::<Vec<_>>(),
            "",
            None,
        )
        .expect("builds");
        assert!(
            a.merge(&big, "big")
                .unwrap_err()
                .to_string()
                .contains("parameters differ")
        );
    }

    #[test]
    fn no_inserted_item_is_ever_missed() {
        let list: Vec<String> = (0..20_000)
            .map(|i| format!("10.{}.{}.{}/32", i / 65536, (i / 256) % 256, i % 256))
            .collect();
        let f = ReputationFilter::build(Kind::Ip, 0.01, &list, "", None).expect("builds");
        for i in 0..20_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(
                10,
                (i / 65536) as u8,
                ((i / 256) % 256) as u8,
                (i % 256) as u8,
            ));
            assert!(f.contains_ip(ip), "{ip}");
        }
    }

    #[test]
    fn lookups_answer_as_the_contains_methods() {
        let ips: Vec<String> = (0..5_000)
            .map(|i| format!("10.1.{}.{}", i / 256, i % 256))
            .collect();
        let mut nets = ips.clone();
        nets.push("192.0.2.0/24".into());
        let f = ReputationFilter::build(Kind::UrlHost, 0.01, &nets, "", None).expect("builds");
        let domains = ["spam.example", "a.b.spam.example", "ham.example"];
        let d = ReputationFilter::build(Kind::Domain, 0.01, &["spam.example".into()], "", None)
            .expect("builds");
        let probe: Vec<IpAddr> = (0..20_000u32)
            .map(|i| IpAddr::V4(std::net::Ipv4Addr::from(0x0A01_0000 + i * 7)))
            .chain([
                "192.0.2.77".parse().expect("valid literal"),
                "::1".parse().expect("valid literal"),
            ])
            .collect();
        let lookups: Vec<Lookup<'_>> = probe.iter().map(|&ip| Lookup::Ip(ip)).collect();
        let many = |f: &ReputationFilter, l: &[Lookup<'_>]| -> Vec<bool> {
            l.iter().map(|&w| f.lookup(w)).collect()
        };
        let out = many(&f, &lookups);
        let single: Vec<bool> = probe.iter().map(|&ip| f.contains_ip(ip)).collect();
        assert_eq!(out, single);
        assert!(out.iter().filter(|&&b| b).count() >= 5_000 / 7);
        assert!(out[out.len() - 2], "the /24 holds 192.0.2.77");
        let lookups: Vec<Lookup<'_>> = domains.iter().map(|d| Lookup::Domain(d)).collect();
        assert_eq!(many(&d, &lookups), [true, true, false]);
        let keyed =
            ReputationFilter::build(Kind::Email, 0.01, &["a@b.example".into()], "", Some(b"k"))
                .expect("builds");
        let items = [Lookup::Item("a@b.example"), Lookup::Item("c@b.example")];
        assert_eq!(many(&keyed, &items), [true, false]);
    }

    #[test]
    fn every_listed_prefix_length_matches_its_addresses() {
        let list: Vec<String> = [
            "198.51.100.7/32",
            "203.0.113.0/24",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "2001:db8::1/128",
            "2001:db8:aa::/48",
            "2001:db8:bb::/64",
            "2001:db8:cc::/63",
            "::/0",
        ]
        .map(String::from)
        .to_vec();
        let ip = |s: &str| s.parse::<IpAddr>().expect("valid literal");
        let f = ReputationFilter::build(Kind::Ip, 0.0001, &list, "", None).expect("builds");
        for listed in [
            "198.51.100.7",
            "203.0.113.200",
            "10.200.1.1",
            "2001:db8::1",
            "2001:db8:aa:ffff::1",
            "2001:db8:bb::ff",
            "2001:db8:cc:1::9",
            "1.2.3.4",
            "fe80::1",
        ] {
            assert!(f.contains_ip(ip(listed)), "{listed}");
        }
        let narrow: Vec<String> = list
            .iter()
            .filter(|n| !n.ends_with("/0"))
            .cloned()
            .collect();
        let f = ReputationFilter::build(Kind::Ip, 0.0001, &narrow, "", None).expect("builds");
        for not_listed in [
            "198.51.100.8",
            "203.0.114.1",
            "11.0.0.1",
            "2001:db8::2",
            "2001:db8:cc:2::1",
        ] {
            assert!(!f.contains_ip(ip(not_listed)), "{not_listed}");
        }
        let prefixes: Vec<u8> = f.listed_prefixes(ip("::1")).collect();
        assert_eq!(prefixes, [128, 64, 63, 48]);
        let prefixes: Vec<u8> = f.listed_prefixes(ip("1.1.1.1")).collect();
        assert_eq!(prefixes, [32, 24, 8]);
    }

    #[test]
    fn builder_counts_distinct_items_and_matches_build() {
        let items: Vec<String> = [
            "spam.example",
            "spam.example",
            "b.spam.example",
            "other.example",
        ]
        .map(String::from)
        .to_vec();
        let mut b = FilterBuilder::new(Kind::Domain, Some(b"k"));
        for i in &items {
            b.add(i);
        }
        let built = b.finish(0.01, None, "x").expect("builder finishes");
        assert_eq!(built.info().items, 3);
        let distinct = &items[1..];
        let direct =
            ReputationFilter::build(Kind::Domain, 0.01, distinct, "x", Some(b"k")).expect("builds");
        assert_eq!(built.bloom.as_slice(), direct.bloom.as_slice());
        assert_eq!(built.bloom.num_hashes(), direct.bloom.num_hashes());
        assert!(built.contains_domain("a.b.spam.example"));
        assert!(
            FilterBuilder::new(Kind::Ip, None)
                .finish(1.5, None, "")
                .is_err()
        );
    }
}
