#!/usr/bin/env python3
"""Fit rule scores on the TRAINING half of a corpus (like SpamAssassin's
perceptron), then write them back into the rule files.

    spamsift eval --split even ... --hits-jsonl train-hits.jsonl
    scripts/tune-scores.py train-hits.jsonl rules/ --channel email [--ham-cost 8] [--write]

Model: score(msg) = sum of rule scores; P(spam) = sigmoid((score - T) / 2).
Cost-sensitive logistic loss (a false positive costs --ham-cost times a
miss), L2 pull towards the hand-set scores, and sign constraints: a rule
written as a spam sign never becomes negative and a ham sign never positive.
Never run this on the test half.
"""
import argparse, json, math, pathlib, re
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("hits"); ap.add_argument("rules_dir")
ap.add_argument("--channel", default="email")
ap.add_argument("--threshold", type=float, default=5.0)
ap.add_argument("--ham-cost", type=float, default=8.0)
ap.add_argument("--l2", type=float, default=0.02)
ap.add_argument("--max-score", type=float, default=4.5)
ap.add_argument("--min-score", type=float, default=-2.0,
                help="floor for ham-sign rules: headers a spammer can forge must not buy much")
ap.add_argument("--write", action="store_true")
ap.add_argument("--quiet", action="store_true")
a = ap.parse_args()

files = sorted(pathlib.Path(a.rules_dir).glob("*.toml"))
scores, where = {}, {}
for f in files:
    text = f.read_text()
    for m in re.finditer(r'^id = "([A-Z0-9_]+)"\n(?:(?!\[\[rule\]\]).*\n)*?score = (-?[0-9.]+)$', text, re.M):
        scores[m.group(1)] = float(m.group(2)); where[m.group(1)] = f

rows = [json.loads(l) for l in open(a.hits)]
rows = [r for r in rows if r["channel"] == a.channel]
ids = sorted({h for r in rows for h in r["hits"]} & scores.keys())
col = {k: i for i, k in enumerate(ids)}
X = np.zeros((len(rows), len(ids)))
for i, r in enumerate(rows):
    for h in r["hits"]:
        if h in col: X[i, col[h]] = 1
y = np.array([1.0 if r["label"] == "spam" else 0.0 for r in rows])
cost = np.where(y == 1, 1.0, a.ham_cost)
w0 = np.array([scores[k] for k in ids]); w = w0.copy()
sign = np.sign(w0)
lr = 0.05
for step in range(4000):
    z = (X @ w - a.threshold) / 2.0
    p = 1 / (1 + np.exp(-z))
    grad = X.T @ ((p - y) * cost) / 2.0 / len(rows) + a.l2 * (w - w0)
    w -= lr * grad * 10
    w = np.where(sign > 0, np.clip(w, 0, a.max_score), np.where(sign < 0, np.clip(w, a.min_score, 0), w))
w = np.round(w, 1)
s = X @ w
tp = int(((s >= a.threshold) & (y == 1)).sum()); fp = int(((s >= a.threshold) & (y == 0)).sum())
print(f"train: recall {tp / y.sum():.4f}  FPR {fp / (1 - y).sum():.4f}  ({fp} FP)")
if a.write:
    for k, new in zip(ids, w):
        f = where[k]; text = f.read_text()
        text = re.sub(r'(^id = "%s"\n(?:(?!\[\[rule\]\]).*\n)*?score = )-?[0-9.]+$' % k,
                      lambda m: m.group(1) + f"{new:.1f}", text, count=1, flags=re.M)
        f.write_text(text)
    print("scores written")
for k, old, new in ([] if a.quiet else sorted(zip(ids, w0, w), key=lambda t: -abs(t[2] - t[1]))):
    if old != new: print(f"  {k:28} {old:5.1f} -> {new:5.1f}")
