#!/usr/bin/env bash
# Gateway measurements on the SMS Spam Collection:
#  1. `spamsift stream` end to end (JSON in and out), policy and behaviour on;
#  2. behaviour detection on a replay with an injected burst campaign:
#     detection delay (messages until flagged) and false flags on normal senders;
#  3. the HTTP API under load from wrk: single checks and batches of 100.
#   scripts/bench-gateway.sh [CORPORA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
C=$(cd "${1:-../shared/corpora}" && pwd)
cargo build --release -q
B=$PWD/target/release/spamsift
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
mkdir -p "$W/policies"
printf '[[block]]\nsender = "+44906*"\naction = "discard"\n[[quiet_hours]]\nstart = "23:00"\nend = "06:00"\ntimezone = "Europe/London"\n' > "$W/policies/+447700900000.toml"
printf '[behaviour]\nenabled = true\n' > "$W/cfg.toml"

python3 - "$C/sms-spam-collection/SMSSpamCollection" "$W" <<'PY'
import json, random, sys
src, W = sys.argv[1], sys.argv[2]
rows = [l.split("\t", 1) for l in open(src, encoding="utf-8", errors="replace").read().splitlines() if "\t" in l]
random.seed(7)
# 1. throughput input: the collection repeated to 500,000 lines, 2,000 senders
with open(f"{W}/bulk.jsonl", "w") as f:
    for i in range(500_000):
        lab, text = rows[i % len(rows)]
        f.write(json.dumps({"from": "+4477%08d" % random.randrange(2000), "to": "+4477%08d" % random.randrange(50000),
                            "text": text, "time": "2024-05-01T12:%02d:%02dZ" % (i // 60 % 60, i % 60)}) + "\n")
# 2. replay: normal traffic from 1,000 senders (each to a few friends) over an
#    hour, with a campaign from one sender starting at message 2,000, to new
#    recipients every time, one message every 2 s of replay time
lines, campaign_at = [], []
t = 0
for i, (lab, text) in enumerate(rows):
    s = random.randrange(1000)
    lines.append({"from": "+4478%08d" % s, "to": "+4479%08d" % (s * 7 + random.randrange(3)), "text": text, "t": t})
    t += 0.65
camp = "Congratulations! You have been selected for a 500 pound shopping voucher. Reply YES to 80082 to claim now"
for k in range(300):
    idx = 2000 + k * 3
    lines.insert(idx, {"from": "+447700123456", "to": "+4476%08d" % k, "text": camp, "t": lines[idx]["t"], "campaign": True})
with open(f"{W}/replay.jsonl", "w") as f, open(f"{W}/replay.truth", "w") as truth:
    for x in lines:
        ts = "2024-05-01T%02d:%02d:%02dZ" % (10 + int(x["t"]) // 3600, int(x["t"]) // 60 % 60, int(x["t"]) % 60)
        f.write(json.dumps({"from": x["from"], "to": x["to"], "text": x["text"], "time": ts}) + "\n")
        truth.write(("campaign" if x.get("campaign") else "normal") + "\n")
PY

echo "== stream, 500,000 SMS, content rules + policy + behaviour, 2 cores"
start=$(date +%s.%N)
"$B" --config "$W/cfg.toml" --policies "$W/policies" stream --channel sms < "$W/bulk.jsonl" > "$W/bulk.out"
end=$(date +%s.%N)
python3 -c "n=sum(1 for _ in open('$W/bulk.out')); print(f'{n} verdicts in {$end-$start:.2f} s: {n/($end-$start):,.0f} SMS/s')"

echo "== behaviour on a replay of the collection with a burst campaign"
# one thread: behaviour state is order-dependent, and parallel batches observe in any order
"$B" --config "$W/cfg.toml" stream --jobs 1 --channel sms < "$W/replay.jsonl" > "$W/replay.out"
python3 - "$W/replay.out" "$W/replay.truth" <<'PY'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])]
truth = [l.strip() for l in open(sys.argv[2])]
beh = lambda v: any(h.startswith("BEHAV_") for h in v.get("hits", []))
camp = [v for v, t in zip(out, truth) if t == "campaign"]
normal = [v for v, t in zip(out, truth) if t == "normal"]
first = next((i for i, v in enumerate(camp) if beh(v)), None)
print(f"campaign (one thread): {len(camp)} messages; first BEHAV flag at campaign message {first + 1 if first is not None else 'never'}; "
      f"{sum(beh(v) for v in camp)} of {len(camp)} flagged; as spam: {sum(v['action'] != 'ham' for v in camp)}")
flagged = [i for i, (v, t) in enumerate(zip(out, truth)) if t == "normal" and beh(v)]
print(f"normal traffic: {len(normal)} messages from 1,000 senders; BEHAV flags: {len(flagged)}: " + ", ".join(f"line {i + 1} {out[i]['hits']}" for i in flagged[:10]))
PY

if command -v wrk >/dev/null; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$B" serve --listen "127.0.0.1:$PORT" --max-body 4194304 2>/dev/null &
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  python3 - "$C/sms-spam-collection/SMSSpamCollection" "$W" <<'PY'
import json, sys
rows = [l.split("\t", 1)[1] for l in open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines() if "\t" in l]
one = json.dumps({"channel": "sms", "from": "+447700900123", "text": rows[2]})
batch = json.dumps({"messages": [{"channel": "sms", "from": "+4477009%05d" % i, "text": rows[i]} for i in range(100)]})
for name, body in (("single", one), ("batch", batch)):
    with open(f"{sys.argv[2]}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ' + json.dumps(body) + "\n")
PY
  for kind in single batch; do
    echo "== HTTP API, POST /v1/check, $kind (wrk: 2 threads, 64 connections, 10 s)"
    wrk -t2 -c64 -d10s --latency -s "$W/$kind.lua" "http://127.0.0.1:$PORT/v1/check" | grep -E "Requests/sec|99%|50%|Non-2xx|Socket errors" || true
  done
fi
