#!/usr/bin/env bash
# A process per message: `spamsift check` (default rules; with --model)
# against `bogofilter -T` on the same message, in interleaved rounds (the
# machine is shared, so only ratios measured together mean anything).
# Prints each command's median wall time and its ratio to bogofilter's.
#   scripts/bench-check.sh [ROUNDS] [CORPORA_DIR]
# Needs bogofilter (installed with apt-get when missing). Trains both on
# the SpamAssassin spam and easy_ham folders of the shared corpora.
ROUNDS=${1:-60}
CORPORA=${2:+$(realpath "$2")}
source "$(dirname "$0")/bogofilter-setup.sh"
SA=$C/spamassassin
bogofilter -d "$W/bogo" -s -B "$SA"/spam/* 
bogofilter -d "$W/bogo" -n -B "$SA"/easy_ham/*
"$B" train --spam "$SA/spam" --ham "$SA/easy_ham" --out "$W/email.bin" >/dev/null 2>&1
cp "$C/sms-spam-collection/SMSSpamCollection" "$W/sms.tsv"
"$B" train --labelled "$W/sms.tsv" --out "$W/sms.bin" >/dev/null 2>&1
EMAIL=$(ls "$SA"/easy_ham/00001.* | head -1)
# The first SMS as spamsift reads it (JSON) and as bogofilter reads it (text).
head -1 "$C/sms-spam-collection/SMSSpamCollection" | cut -f2- > "$W/sms.txt"
python3 -c 'import json,sys; print(json.dumps({"channel":"sms","text":open(sys.argv[1]).read().strip()}))' "$W/sms.txt" > "$W/sms.json"
python3 - "$ROUNDS" "$B" "$W" "$EMAIL" <<'PY'
import statistics, subprocess, sys, time
rounds, B, W, email = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cases = {
    "bogofilter -T (email)": (["bogofilter", "-d", f"{W}/bogo", "-T"], email),
    "spamsift check (email)": ([B, "check"], email),
    "spamsift check --model (email)": ([B, "--model", f"{W}/email.bin", "check"], email),
    "bogofilter -T (sms)": (["bogofilter", "-d", f"{W}/bogo", "-T"], f"{W}/sms.txt"),
    "spamsift check (sms)": ([B, "check"], f"{W}/sms.json"),
    "spamsift check --model (sms)": ([B, "--model", f"{W}/sms.bin", "check"], f"{W}/sms.json"),
}
times = {k: [] for k in cases}
for _ in range(rounds):
    for k, (cmd, inp) in cases.items():
        with open(inp, "rb") as f:
            t = time.perf_counter()
            subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[k].append(time.perf_counter() - t)
med = {k: statistics.median(v) * 1000 for k, v in times.items()}
for k, m in med.items():
    base = med["bogofilter -T (sms)" if "sms" in k else "bogofilter -T (email)"]
    print(f"{k:34} median {m:6.2f} ms  {m / base:5.2f}x bogofilter")
PY
