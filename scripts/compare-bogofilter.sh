#!/usr/bin/env bash
# Compare spamsift's statistical classifier with bogofilter 1.2.5 on the same
# halves of the shared corpora: train on the even half, classify the odd half
# (sorted file names / line index). Prints accuracy side by side and training
# and classification throughput as ratios measured in the same run.
#   scripts/compare-bogofilter.sh [CORPORA_DIR]
# Installs bogofilter with apt-get when it is missing.
CORPORA=${1:+$(realpath "$1")}
source "$(dirname "$0")/bogofilter-setup.sh"

# ---- lay out both corpora as files, split even/odd -------------------------
python3 - "$C" "$W" <<'PY'
import os, sys
C, W = sys.argv[1], sys.argv[2]
for half in ("train", "test"):
    for lab in ("spam", "ham"):
        for corp in ("email", "sms"):
            os.makedirs(f"{W}/{corp}/{half}/{lab}", exist_ok=True)
sa = f"{C}/spamassassin"
for d in sorted(os.listdir(sa)):
    if not os.path.isdir(f"{sa}/{d}"): continue
    lab = "ham" if "ham" in d else "spam"
    for i, f in enumerate(sorted(os.listdir(f"{sa}/{d}"))):
        half = "train" if i % 2 == 0 else "test"
        os.symlink(f"{sa}/{d}/{f}", f"{W}/email/{half}/{lab}/{d}-{f}")
lines = [l for l in open(f"{C}/sms-spam-collection/SMSSpamCollection", encoding="utf-8", errors="replace").read().splitlines() if l.strip()]
import json
# bogofilter reads each SMS as a mail file; spamsift reads the same halves as
# SMS (a labelled TSV to train, JSON lines to classify), as a gateway would.
train_tsv = open(f"{W}/sms/train.tsv", "w", encoding="utf-8")
test_jsonl = open(f"{W}/sms/test.jsonl", "w", encoding="utf-8")
test_labels = open(f"{W}/sms/test.labels", "w", encoding="utf-8")
for i, l in enumerate(lines):
    lab, text = l.split("\t", 1)
    half = "train" if i % 2 == 0 else "test"
    with open(f"{W}/sms/{half}/{lab}/{i:05d}", "w", encoding="utf-8") as f:
        f.write("From: sender@sms.invalid\nSubject: sms\n\n" + text + "\n")
    if half == "train":
        train_tsv.write(f"{lab}\t{text}\n")
    else:
        test_jsonl.write(json.dumps({"channel": "sms", "text": text}) + "\n")
        test_labels.write(lab + "\n")
PY

metrics() { # file with "label score" lines, spam cutoff -> metrics
python3 - "$1" "$2" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
cut = float(sys.argv[2])
y = [r[0] == "spam" for r in rows]; s = [float(r[1]) for r in rows]
P = sum(y); N = len(y) - P
tp = sum(1 for a, b in zip(y, s) if a and b >= cut); fp = sum(1 for a, b in zip(y, s) if not a and b >= cut)
tn, fn = N - fp, P - tp
import math
mcc = (tp*tn - fp*fn) / math.sqrt(max((tp+fp)*(tp+fn)*(tn+fp)*(tn+fn), 1))
pairs = sorted(zip(s, y)); auc = 0.0; rank = 0; i = 0
# AUC by ranks (ties averaged)
ranks = {}
sorted_s = sorted(s)
import bisect
auc_num = 0.0
for sc, lab in zip(s, y):
    if lab:
        lo = bisect.bisect_left(sorted_s, sc); hi = bisect.bisect_right(sorted_s, sc)
        auc_num += lo + (hi - lo) / 2
auc = (auc_num - P * (P + 1) / 2 + P / 2) / (P * N) if P and N else 0
# recall with zero false positives
hs = max([b for a, b in zip(y, s) if not a], default=-1e9)
r0 = sum(1 for a, b in zip(y, s) if a and b > hs) / P
print(f"AUC {auc:.5f}  acc {100*(tp+tn)/len(y):.2f}%  recall {100*tp/P:.1f}%  FPR {100*fp/N:.2f}%  MCC {mcc:.3f}  recall@0FP {100*r0:.1f}%")
PY
}

for corp in email sms; do
  echo "== $corp"
  # bogofilter
  bf="$W/bf-$corp"; mkdir -p "$bf"
  t0=$(date +%s.%N)
  find "$W/$corp/train/spam" -type l -o -type f -path "*train/spam*" | xargs -r bogofilter -d "$bf" -s -B
  find "$W/$corp/train/ham" -type l -o -type f -path "*train/ham*" | xargs -r bogofilter -d "$bf" -n -B
  t1=$(date +%s.%N)
  : > "$W/bf-$corp.scores"
  for lab in spam ham; do
    # (bogofilter's exit status is the last message's class, not an error)
    { find "$W/$corp/test/$lab" -type l -o -type f -path "*test/$lab*" | xargs -r bogofilter -d "$bf" -T -B || true; } \
      | awk -v l=$lab '{print l, $3}' >> "$W/bf-$corp.scores"
  done
  t2=$(date +%s.%N)
  ntrain=$(find "$W/$corp/train" -type l -o -type f | wc -l); ntest=$(find "$W/$corp/test" -type l -o -type f | wc -l)
  echo "bogofilter 1.2.5 (spam at spamicity >= 0.99): $(metrics "$W/bf-$corp.scores" 0.99)"
  bf_train=$(python3 -c "print($ntrain/($t1-$t0))"); bf_class=$(python3 -c "print($ntest/($t2-$t1))")
  # spamsift, one thread, same files
  cfg="$W/ss.toml"; printf "[bayes]\n" > "$cfg"
  if [ "$corp" = email ]; then
    train=(--spam "$W/$corp/train/spam" --ham "$W/$corp/train/ham")
    test=("$W/$corp/test/spam" "$W/$corp/test/ham")
  else
    train=(--channel sms --labelled "$W/sms/train.tsv")
    test=(--channel sms "$W/sms/test.jsonl")
  fi
  t0=$(date +%s.%N)
  $B --config "$cfg" train --jobs 1 --out "$W/ss-$corp.model" "${train[@]}" 2>/dev/null
  t1=$(date +%s.%N)
  $B --config "$cfg" --model "$W/ss-$corp.model" scan --jobs 1 "${test[@]}" > "$W/ss-$corp.jsonl" 2>/dev/null
  t2=$(date +%s.%N)
  python3 - "$W/ss-$corp.jsonl" "$W/sms/test.labels" "$corp" > "$W/ss-$corp.scores" <<'PY'
import json, sys
labels = [l.strip() for l in open(sys.argv[2])] if sys.argv[3] == "sms" else None
for i, l in enumerate(open(sys.argv[1])):
    v = json.loads(l)
    lab = labels[i] if labels else ("spam" if "/test/spam/" in v["origin"] else "ham")
    print(lab, v.get("bayes", 0.5), v["score"])
PY
  awk '{print $1, $2}' "$W/ss-$corp.scores" > "$W/ss-$corp.bayes"
  awk '{print $1, $3}' "$W/ss-$corp.scores" > "$W/ss-$corp.comb"
  echo "spamsift Bayes alone (spam at p >= 0.5):     $(metrics "$W/ss-$corp.bayes" 0.5)"
  echo "spamsift Bayes + rules (score >= 5.0):      $(metrics "$W/ss-$corp.comb" 5.0)"
  ss_train=$(python3 -c "print($ntrain/($t1-$t0))"); ss_class=$(python3 -c "print($ntest/($t2-$t1))")
  python3 -c "print(f'throughput, one core, whole process incl. startup: train bogofilter {$bf_train:.0f} msg/s, spamsift {$ss_train:.0f} msg/s ({$ss_train/$bf_train:.1f}x); classify bogofilter {$bf_class:.0f} msg/s, spamsift (Bayes + all rules) {$ss_class:.0f} msg/s ({$ss_class/$bf_class:.1f}x)')"
  # Bulk classification: the test half $REPEAT times in one process each,
  # so start-up (spamsift compiles its rules, ~0.03 s) weighs as in a
  # long-running filter; spamsift also without rules (Bayes only, as
  # bogofilter).
  R=${REPEAT:-10}
  if [ "$corp" = email ]; then
    bulk=(); for _ in $(seq "$R"); do bulk+=("${test[@]}"); done
  else
    for _ in $(seq "$R"); do cat "$W/sms/test.jsonl"; done > "$W/sms/bulk.jsonl"
    bulk=(--channel sms "$W/sms/bulk.jsonl")
  fi
  norules="$W/no-rules"; mkdir -p "$norules"; echo "# no rules: Bayes only" > "$norules/none.toml"
  t0=$(date +%s.%N)
  for _ in $(seq "$R"); do find "$W/$corp/test" -type l -o -type f; done | { xargs -r bogofilter -d "$bf" -T -B || true; } > /dev/null
  t1=$(date +%s.%N)
  $B --config "$cfg" --model "$W/ss-$corp.model" scan --jobs 1 "${bulk[@]}" > /dev/null 2>&1
  t2=$(date +%s.%N)
  $B --rules "$norules" --config "$cfg" --model "$W/ss-$corp.model" scan --jobs 1 "${bulk[@]}" > /dev/null 2>&1
  t3=$(date +%s.%N)
  python3 -c "n=$ntest*$R; b=n/($t1-$t0); s=n/($t2-$t1); o=n/($t3-$t2); print(f'bulk classify ({$R}x the test half), one core: bogofilter {b:.0f} msg/s; spamsift Bayes + rules {s:.0f} msg/s ({s/b:.1f}x); spamsift Bayes only {o:.0f} msg/s ({o/b:.1f}x)')"
done
