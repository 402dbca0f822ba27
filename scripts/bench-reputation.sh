#!/usr/bin/env bash
# Measure reputation filters at scale:
#  1. build a 10,000,000-item IPv4 filter: time and file size;
#  2. the engine on the SpamAssassin corpus with 5 reputation filters of
#     1,000,000 items each loaded vs the default rules alone (criterion,
#     one run: classify_parsed against classify_parsed_rules_b, and
#     reputation_sources_only, the reputation stage alone).
#   scripts/bench-reputation.sh [CORPORA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
C=$(cd "${1:-../shared/corpora}" && pwd)
cargo build --release -q
B=$PWD/target/release/spamsift
# SPAMSIFT_BENCH_DIR keeps the lists and filters for later runs.
if [ -n "${SPAMSIFT_BENCH_DIR:-}" ]; then W=$SPAMSIFT_BENCH_DIR; mkdir -p "$W"; else
  W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; fi
python3 - "$W" <<'PY'
import sys
W = sys.argv[1]
def write(name, gen, n):
    with open(f"{W}/{name}", "w") as f:
        for i in range(n):
            f.write(gen(i) + "\n")
ip = lambda base: (lambda i: "%d.%d.%d.%d" % (((base + i * 2654435761) >> 24) & 255, ((base + i * 2654435761) >> 16) & 255, ((base + i * 2654435761) >> 8) & 255, (base + i * 2654435761) & 255))
write("ips-10m.txt", ip(0x0B000000), 10_000_000)
write("ips-1m.txt", ip(0x0C000000), 1_000_000)
write("domains-1m.txt", lambda i: f"spam{i}.example{i % 97}.com", 1_000_000)
write("hosts-1m.txt", lambda i: f"cdn{i}.badhost{i % 89}.net", 1_000_000)
write("emails-1m.txt", lambda i: f"sender{i}@mailer{i % 83}.org", 1_000_000)
write("phones-1m.txt", lambda i: f"+44{7000000000 + i}", 1_000_000)
PY
echo "== 10,000,000-item IPv4 filter at fp-rate 0.001"
/usr/bin/time -f "wall %e s, max RSS %M KB" $B reputation build --kind ip --fp-rate 0.001 --out "$W/ips-10m.rep" "$W/ips-10m.txt"
ls -l "$W/ips-10m.rep" | awk '{printf "file size %.1f MB\n", $5/1e6}'
R="$W/rules-with-reputation"; mkdir -p "$R"; cp rules/*.toml "$R/"
for k in "ip ips-1m" "domain domains-1m" "url-host hosts-1m" "email emails-1m" "phone phones-1m"; do
  set -- $k
  $B reputation build --kind "$1" --fp-rate 0.001 --out "$R/$2.rep" "$W/$2.txt" 2>/dev/null
done
cat > "$R/zz-reputation.toml" <<'TOML'
[[reputation]]
id = "BENCH_IP_BL"
score = 1.0
kind = "ip"
file = "ips-1m.rep"
identities = ["client_ip"]

[[reputation]]
id = "BENCH_DOMAIN_BL"
score = 1.0
kind = "domain"
file = "domains-1m.rep"
identities = ["from_domain", "reply_to_domain"]

[[reputation]]
id = "BENCH_URIBL"
score = 1.0
kind = "url-host"
file = "hosts-1m.rep"
identities = ["url_hosts"]

[[reputation]]
id = "BENCH_EMAIL_BL"
score = 1.0
kind = "email"
file = "emails-1m.rep"
identities = ["from_address"]

[[reputation]]
id = "BENCH_PHONE_BL"
score = 1.0
kind = "phone"
file = "phones-1m.rep"
identities = ["sender"]
TOML
S=$C/spamassassin
SPAMSIFT_BENCH_RULES_B="$R" SPAMSIFT_BENCH_CORPUS=$S/easy_ham:$S/easy_ham_2:$S/hard_ham:$S/spam:$S/spam_2 \
  cargo bench --bench classify -- "email_corpus/(classify_parsed|reputation_sources_only)" 2>&1 | grep -E "^email|time:" | grep -v "%"
