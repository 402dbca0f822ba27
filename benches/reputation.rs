//! Reputation filter lookups: a 1,000,000-item IPv4 filter built at a target
//! false-positive rate of 0.001. Prints the false-positive rate measured on
//! 1,000,000 addresses that are not in it, then benchmarks lookups.
//!
//! `cargo bench --bench reputation`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spamsift::reputation::{Kind, ReputationFilter};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

const N: u32 = 1_000_000;

fn ip(base: u32, i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(
        base.wrapping_add(i.wrapping_mul(2_654_435_761)),
    ))
}

fn benches(c: &mut Criterion) {
    let items: Vec<String> = (0..N)
        .map(|i| format!("{}/32", ip(0x0A00_0000, i)))
        .collect();
    let t = std::time::Instant::now();
    let filter = ReputationFilter::build(Kind::Ip, 0.001, &items, "bench", None).expect("build");
    eprintln!(
        "built {N} items in {:.2} s, {} bytes",
        t.elapsed().as_secs_f64(),
        filter.to_bytes().len()
    );
    // Members are never missed; non-members measure the false-positive rate.
    let missed = (0..N)
        .filter(|&i| !filter.contains_ip(ip(0x0A00_0000, i)))
        .count();
    // Different odd multiplier and base: disjoint from the inserted set.
    let outsiders: Vec<IpAddr> = (0..N)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0xC000_0000u32.wrapping_add(i))))
        .collect();
    let fp = outsiders.iter().filter(|a| filter.contains_ip(**a)).count();
    eprintln!(
        "members missed: {missed}; false positives: {fp} of {N} non-members = {:.5} (target 0.001)",
        fp as f64 / N as f64
    );
    // 100,000 of the non-members, in a compact array of their own so the
    // bench reads its input sequentially and measures the filter.
    let sample: Vec<IpAddr> = outsiders.iter().step_by(10).copied().collect();
    let mut g = c.benchmark_group("reputation_ipv4_1m");
    g.throughput(Throughput::Elements(sample.len() as u64));
    g.bench_function("contains_ip", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for a in &sample {
                n += u32::from(filter.contains_ip(black_box(*a)));
            }
            n
        })
    });
    g.finish();
}

criterion_group!(name = reputation; config = Criterion::default().sample_size(20); targets = benches);
criterion_main!(reputation);
