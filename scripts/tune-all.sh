#!/usr/bin/env bash
# Re-fit the default rule scores on the TRAINING half (even split) of the
# shared corpora. Never uses the test half. Needs python3 with numpy.
#   scripts/tune-all.sh [CORPORA_DIR] [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-../shared/corpora}
WRITE=${2:-}
cargo build --release -q
BIN=target/release/spamsift
TMP=$(mktemp -d)
S=$C/spamassassin
Y=$C/youtube-spam
T=$C/telegram-spam
# IM first, then SMS, then email: rules shared between channels keep the
# scores fitted on the channel tuned last.
$BIN eval --split even --channel im --labelled $Y/Youtube01-Psy.csv --labelled $Y/Youtube02-KatyPerry.csv \
  --labelled $Y/Youtube03-LMFAO.csv --labelled $Y/Youtube04-Eminem.csv --labelled $Y/Youtube05-Shakira.csv \
  --spam $T/spam-samples.txt --ham $T/ham-samples.txt --hits-jsonl $TMP/im.jsonl >/dev/null
python3 scripts/tune-scores.py $TMP/im.jsonl rules --channel im --ham-cost 6 --l2 0.005 --quiet $WRITE
$BIN eval --split even --channel sms --labelled $C/sms-spam-collection/SMSSpamCollection --hits-jsonl $TMP/sms.jsonl >/dev/null
python3 scripts/tune-scores.py $TMP/sms.jsonl rules --channel sms --ham-cost 12 --l2 0.005 --quiet $WRITE
$BIN eval --split even --email-dir $S/easy_ham --email-dir $S/easy_ham_2 --email-dir $S/hard_ham \
  --email-dir $S/spam --email-dir $S/spam_2 --hits-jsonl $TMP/email.jsonl >/dev/null
python3 scripts/tune-scores.py $TMP/email.jsonl rules --channel email --ham-cost 6 --l2 0.005 --quiet $WRITE
rm -rf "$TMP"
