#!/usr/bin/env python3
"""bogofilter under the TREC immediate-feedback protocol, on the same
messages in the same order as `spamsift eval --online`: each message is
scored (`bogofilter -T`) by the database of every message before it, then
registered with its true label (`-s` / `-n`). Prints (1-ROCA)% of the
spamicity over the run.

    scripts/online-bogofilter.py --order name DIR_OR_FILE:LABEL ...
    scripts/online-bogofilter.py --sms SMSSpamCollection

Folders of one message per file are labelled by the `:spam` / `:ham`
suffix; `--sms` reads the SMS Spam Collection's label<TAB>text lines in
order, each wrapped as a minimal mail for bogofilter.
"""
import os, subprocess, sys, tempfile

def auc(pairs):
    # Probability that a random spam scores above a random ham (ties half).
    pairs = sorted(pairs, key=lambda p: p[1])
    ranks, i = {}, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][1] == pairs[i][1]:
            j += 1
        for k in range(i, j):
            ranks[k] = (i + j + 1) / 2
        i = j
    spam = [ranks[k] for k, p in enumerate(pairs) if p[0]]
    n_s, n_h = len(spam), len(pairs) - len(spam)
    return (sum(spam) - n_s * (n_s + 1) / 2) / (n_s * n_h)

def main():
    args = sys.argv[1:]
    order = "given"
    if args[:1] == ["--order"]:
        order, args = args[1], args[2:]
    items = []
    if args[:1] == ["--sms"]:
        for line in open(args[1], encoding="utf-8", errors="replace"):
            label, _, text = line.rstrip("\n").partition("\t")
            msg = ("From: sender@sms.invalid\nSubject: sms\n\n" + text + "\n").encode()
            items.append((label == "spam", msg, ""))
    else:
        for a in args:
            path, label = a.rsplit(":", 1)
            for f in sorted(os.listdir(path)):
                items.append((label == "spam", os.path.join(path, f), f))
        if order == "name":
            items.sort(key=lambda i: i[2])
    db = tempfile.mkdtemp()
    scores = []
    for spam, msg, _ in items:
        data = msg if isinstance(msg, bytes) else open(msg, "rb").read()
        out = subprocess.run(["bogofilter", "-d", db, "-T"], input=data, capture_output=True).stdout.split()
        scores.append((spam, float(out[1]) if len(out) > 1 else 0.5))
        subprocess.run(["bogofilter", "-d", db, "-s" if spam else "-n"], input=data)
    print(f"bogofilter online: {len(scores)} messages, (1-ROCA)% {(1 - auc(scores)) * 100:.4f}")

main()
