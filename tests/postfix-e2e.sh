#!/usr/bin/env bash
# End-to-end: a real Postfix (Debian's) on 127.0.0.1 only, with spamsift as
# its milter, local delivery to a test mailbox. Sends ham, spam and a
# reject-level message over SMTP and checks what was delivered or refused;
# then stops spamsift mid-run and checks Postfix still delivers (fail open).
#   tests/postfix-e2e.sh [path/to/spamsift]
# Needs root and the postfix package (apt-get install postfix).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/release/spamsift}
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -q)
command -v postfix >/dev/null || { echo "postfix not installed"; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (Postfix runs as its own users)"; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SMTP_PORT=$(free_port); MILTER_PORT=$(free_port)
D=$(mktemp -d /tmp/spamsift-postfix.XXXXXX)
chmod 755 "$D"
mkdir -p "$D/conf" "$D/queue" "$D/data" "$D/spool"
chmod 1777 "$D/spool"
chown postfix "$D/data"

cat > "$D/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $D/queue
data_directory = $D/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.spamsift.test
mydomain = spamsift.test
myorigin = \$mydomain
mydestination = localhost, \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
mail_spool_directory = $D/spool
maillog_file = $D/maillog
maillog_file_prefixes = $D
smtpd_milters = inet:127.0.0.1:$MILTER_PORT
non_smtpd_milters =
milter_default_action = accept
milter_protocol = 6
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
smtp_dns_support_level = disabled
disable_dns_lookups = yes
CF
cat > "$D/conf/master.cf" <<CF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF

# Postfix only runs a non-default configuration directory that the default
# main.cf authorises; add ours for the run and put things back afterwards.
SYS=/etc/postfix/main.cf
if [ -f "$SYS" ]; then cp -p "$SYS" "$D/main.cf.orig"; else : > "$D/main.cf.absent"; printf 'compatibility_level = 3.6\n' > "$SYS"; fi
postconf -e "alternate_config_directories = $D/conf"

RUST_LOG=info,spamsift::milter=debug "$BIN" -v milter --listen "inet:127.0.0.1:$MILTER_PORT" --max-size 6000000 > "$D/spamsift.log" 2>&1 &
SPAMSIFT=$!
cleanup() {
  kill "$SPAMSIFT" 2>/dev/null || true
  postfix -c "$D/conf" stop >/dev/null 2>&1 || true
  sleep 0.5
  if [ -f "$D/main.cf.orig" ]; then cp -p "$D/main.cf.orig" "$SYS"; elif [ -f "$D/main.cf.absent" ]; then rm -f "$SYS"; fi
  rm -rf "$D"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$MILTER_PORT) 2>/dev/null && break; sleep 0.1; done

postfix -c "$D/conf" set-permissions >/dev/null 2>&1 || true
postfix -c "$D/conf" check
postfix -c "$D/conf" start
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$SMTP_PORT) 2>/dev/null && break; sleep 0.1; done

send() { # file -> prints "sent" or the SMTP error code
python3 - "$SMTP_PORT" "$1" <<'PY'
import smtplib, sys
port, path = int(sys.argv[1]), sys.argv[2]
data = open(path, "rb").read()
if data.startswith(b"From "):
    data = data.split(b"\n", 1)[1]
try:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("sender@spamsift.test", ["nobody@localhost"], data)
    print("sent")
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
except smtplib.SMTPRecipientsRefused as e:
    print("refused", e)
PY
}
F="$ROOT/tests/fixtures/email"
fail=0
check() { if eval "$2"; then echo "ok   - $1"; else echo "FAIL - $1"; fail=1; fi; }

r_ham=$(send "$F/ham-newsletter.eml")
r_spam=$(send "$F/spam-password-expiry.eml")
r_reject=$(send "$F/spam-pharmacy-tagged.eml")
check "ham accepted" '[ "$r_ham" = sent ]'
check "spam accepted for tagging" '[ "$r_spam" = sent ]'
check "reject-level message refused with 550 ($r_reject)" '[[ "$r_reject" == 550* ]]'

MBOX="$D/spool/nobody"
wait_for() { for _ in $(seq 100); do [ -f "$MBOX" ] && [ "$(grep -c "$1" "$MBOX" || true)" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
wait_for '^Subject: ' 2 || true
python3 - "$MBOX" > "$D/delivered.txt" <<'PY'
import mailbox, sys
for m in mailbox.mbox(sys.argv[1]):
    print("SUBJECT:", m["Subject"], "| FLAG:", m.get("X-Spam-Flag"), "| STATUS:", (m.get("X-Spam-Status") or "").split(",")[0], "| N_STATUS:", len(m.get_all("X-Spam-Status") or []))
PY
cat "$D/delivered.txt"
check "ham delivered with X-Spam-Status: No" 'grep -q "Example Weekly.*FLAG: None | STATUS: No | N_STATUS: 1" "$D/delivered.txt"'
check "spam delivered with X-Spam-Flag: YES" 'grep -q "password expires today | FLAG: YES | STATUS: Yes | N_STATUS: 1" "$D/delivered.txt"'
check "reject-level message not delivered" '! grep -q "Viagra" "$D/delivered.txt"'

# Hostile input. (1) The reject-level spam with a 3 MB text/html
# alternative of anchors that never close and its own forged verdict: it
# must still be refused, promptly. (2) A ham over the milter's --max-size
# with a forged verdict: delivered unclassified, without the forged fields.
python3 - "$F/spam-pharmacy-tagged.eml" "$F/ham-newsletter.eml" "$D" <<'PY'
import sys
spam, ham, d = (open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), sys.argv[3])
def split(m):
    if m.startswith(b"From "):
        m = m.split(b"\n", 1)[1]
    head, body = m.split(b"\n\n", 1)
    keep = [l for l in head.split(b"\n") if not l.lower().startswith((b"content-", b"mime-version", b"x-spam-"))]
    return b"\n".join(keep), body
forged = b"X-Spam-Flag: NO\nX-Spam-Status: No, score=-100.0 required=5.0 tests=NONE\n"
head, body = split(spam)
bomb = b"<html><body>" + b'<a href="http://x.example/p">click here ' * 75000 + b"</body></html>"
msg = (forged + head + b"\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=BB\n\n"
       + b"--BB\nContent-Type: text/plain\n\n" + body + b"\n--BB\nContent-Type: text/html\n\n" + bomb + b"\n--BB--\n")
open(d + "/anchor-bomb.eml", "wb").write(msg)
head, body = split(ham)
big = forged + head + b"\nSubject: big newsletter\n\n" + body + b"\n" + b"The weekly digest continues.\n" * 250000
open(d + "/oversize-forged.eml", "wb").write(big)
PY
t0=$(date +%s.%N)
r_bomb=$(send "$D/anchor-bomb.eml")
t1=$(date +%s.%N)
bomb_secs=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
echo "anchor bomb ($(stat -c %s "$D/anchor-bomb.eml") bytes): $r_bomb in $bomb_secs s over SMTP"
check "reject-level spam with a 3 MB anchor bomb refused with 550 ($r_bomb)" '[[ "$r_bomb" == 550* ]]'
r_big=$(send "$D/oversize-forged.eml")
check "oversize ham with a forged verdict accepted unclassified ($r_big)" '[ "$r_big" = sent ]'
wait_for '^Subject: big newsletter' 1 || true
check "oversize ham delivered" 'grep -q "^Subject: big newsletter" "$MBOX"'
check "no forged X-Spam field reached the mailbox" '! grep -q "score=-100" "$MBOX" && ! grep -q "^X-Spam-Flag: NO" "$MBOX"'

# Optional load: POSTFIX_LOAD=N sends N corpus messages through Postfix (8 SMTP
# clients in parallel) and reports messages/s; every message must be accepted
# or refused with 550, none lost.
if [ "${POSTFIX_LOAD:-0}" -gt 0 ]; then
  CORPUS=${POSTFIX_LOAD_CORPUS:-$ROOT/../shared/corpora/spamassassin}
  before=$(grep -c '^From ' "$MBOX" 2>/dev/null || echo 0)
  result=$(python3 - "$SMTP_PORT" "$CORPUS" "$POSTFIX_LOAD" <<'PY'
import os, smtplib, sys, time, concurrent.futures as cf
port, corpus, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs)
# spread over the whole corpus (ham and spam folders alike)
files = [files[i * len(files) // n] for i in range(n)] if n <= len(files) else (files * (n // len(files) + 1))[:n]
def send(path):
    data = open(path, "rb").read()
    if data.startswith(b"From "):
        data = data.split(b"\n", 1)[1]
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.sendmail("load@spamsift.test", ["nobody@localhost"], data)
        return "sent"
    except smtplib.SMTPResponseException as e:
        return str(e.smtp_code)
    except Exception as e:
        return "error " + type(e).__name__
t = time.time()
with cf.ThreadPoolExecutor(8) as ex:
    res = list(ex.map(send, files))
dt = time.time() - t
from collections import Counter
c = Counter(res)
print(f"{n} {c.get('sent',0)} {c.get('550',0)} {n - c.get('sent',0) - c.get('550',0)} {n/dt:.0f}")
PY
)
  read -r total sent rejected other rate <<< "$result"
  echo "load: $total messages through Postfix: $sent accepted, $rejected refused 550, $other other; $rate msg/s (SMTP, 8 clients)"
  for _ in $(seq 600); do
    now=$(grep -c '^From ' "$MBOX" 2>/dev/null || echo 0)
    [ $((now - before)) -ge "$sent" ] && break; sleep 0.2
  done
  now=$(grep -c '^From ' "$MBOX" 2>/dev/null || echo 0)
  check "load: every accepted message delivered ($((now - before)) of $sent)" '[ $((now - before)) -ge "$sent" ]'
  check "load: nothing lost or failed" '[ "$other" -eq 0 ]'
fi

# Greylisting: spamsift restarted with [greylist] (2 s delay). The first
# attempt of a new (client network, sender, recipient) is deferred at RCPT
# with 451; the retry after the delay is accepted and delivered.
kill "$SPAMSIFT"; wait "$SPAMSIFT" 2>/dev/null || true
printf '[greylist]\nenabled = true\ndelay_secs = 2\n' > "$D/greylist.toml"
"$BIN" -v --config "$D/greylist.toml" milter --listen "inet:127.0.0.1:$MILTER_PORT" > "$D/spamsift-greylist.log" 2>&1 &
SPAMSIFT=$!
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$MILTER_PORT) 2>/dev/null && break; sleep 0.1; done
weekly_before=$(grep -c '^Subject: Example Weekly' "$MBOX" || true)
r_grey1=$(send "$F/ham-newsletter.eml")
r_grey2=$(send "$F/ham-newsletter.eml")
sleep 2.5
r_grey3=$(send "$F/ham-newsletter.eml")
check "greylisting: first attempt deferred with 451 ($r_grey1)" '[[ "$r_grey1" == refused*451* ]]'
check "greylisting: a retry within the delay deferred again ($r_grey2)" '[[ "$r_grey2" == refused*451* ]]'
check "greylisting: the retry after the delay accepted ($r_grey3)" '[ "$r_grey3" = sent ]'
wait_for '^Subject: Example Weekly' $((weekly_before + 1)) || true
check "greylisting: the accepted retry delivered once" '[ "$(grep -c "^Subject: Example Weekly" "$MBOX")" -eq $((weekly_before + 1)) ]'
check "greylisting: logged" 'grep -q greylisted "$D/spamsift-greylist.log"'

# Fail open: with spamsift gone, Postfix still delivers (milter_default_action = accept).
kill "$SPAMSIFT"; wait "$SPAMSIFT" 2>/dev/null || true
r_open=$(send "$F/ham-list-reply.eml")
check "delivered with spamsift stopped ($r_open)" '[ "$r_open" = sent ]'
wait_for 'parser panics on empty header block' 1 || true
check "message delivered unchanged while spamsift is down" 'grep -q "parser panics on empty header block" "$MBOX"'
check "spamsift logged one line per classified message" '[ "$(grep -c classified "$D/spamsift.log")" -ge 3 ]'
# Postfix offers the no-reply flags and spamsift takes them: header fields
# and body chunks stream without a round trip each.
check "no reply to header fields agreed with Postfix" 'grep "milter options agreed" "$D/spamsift.log" | grep -q NR_HEADER'

if [ $fail -ne 0 ]; then
  echo "--- maillog"; tail -40 "$D/maillog" 2>/dev/null || true
  echo "--- spamsift log"; tail -20 "$D/spamsift.log"
  echo "postfix e2e: FAILED"; exit 1
fi
echo "postfix e2e: all checks passed"
