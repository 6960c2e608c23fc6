#!/usr/bin/env python3
"""Paired comparison of two trial groups of a sweep: per-seed values of a metric, the mean of
each group, and the mean paired difference (A - B, same seed) with its 95% Student-t interval.

    usage: scripts/compare-groups.py RESULTS_DB GROUP_A GROUP_B [METRIC]   (default accuracy)

Reads the sweep's SQLite database (runs/NAME/results.db); only finished trials count, and only
seeds present in both groups are paired. Standard library only."""
import math
import sqlite3
import sys

# Two-sided 95% quantiles of Student's t, by degrees of freedom (1..30); beyond, the normal's.
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
       2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
       2.052, 2.048, 2.045, 2.042]


def values(db, group, metric):
    rows = db.execute(
        "SELECT t.seed, m.value FROM trials t JOIN metrics m ON m.trial_id = t.id "
        "WHERE t.grp = ? AND m.name = ? AND t.status = 'done' ORDER BY t.seed", (group, metric)).fetchall()
    return {seed: value for seed, value in rows}


def main(argv):
    if len(argv) not in (4, 5):
        sys.exit(__doc__)
    path, a, b = argv[1], argv[2], argv[3]
    metric = argv[4] if len(argv) == 5 else "accuracy"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        sys.exit(f"{path}: cannot open the results database: {error}")
    va, vb = values(db, a, metric), values(db, b, metric)
    for name, v in ((a, va), (b, vb)):
        if not v:
            sys.exit(f"{path}: group '{name}' has no finished trial with metric '{metric}'")
    seeds = sorted(set(va) & set(vb))
    if len(seeds) < 2:
        sys.exit(f"{path}: groups '{a}' and '{b}' share {len(seeds)} seed(s); a paired interval needs at least 2")
    scale = 100.0 if metric == "accuracy" else 1.0
    unit = " pt" if metric == "accuracy" else ""
    diffs = [scale * (va[s] - vb[s]) for s in seeds]
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = (T95[n - 2] if n - 1 <= len(T95) else 1.96) * sd / math.sqrt(n)
    print(f"{metric}: {a} vs {b}, seeds {seeds}")
    for s in seeds:
        print(f"  seed {s}: {scale * va[s]:.2f} vs {scale * vb[s]:.2f}  diff {scale * (va[s] - vb[s]):+.2f}{unit}")
    print(f"  mean {scale * sum(va[s] for s in seeds) / n:.2f} vs {scale * sum(vb[s] for s in seeds) / n:.2f}; "
          f"paired difference {mean:+.2f}{unit}, 95% CI [{mean - half:+.2f}, {mean + half:+.2f}] (t, n = {n})")


if __name__ == "__main__":
    main(sys.argv)
