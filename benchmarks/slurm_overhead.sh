#!/usr/bin/env bash
# The Slurm executor's overhead: one 10-trial sweep (2 seeds x baseline + 4 PTQ widths, mlp on
# Fashion-MNIST) run with the local executor (2 workers) and through the local Slurm
# (scripts/slurm-local.sh: 2 nodes x 1 CPU, the same parallelism), alternating, REPEATS times
# each (default 2) in this run. Prints the wall times, the overhead per trial, and checks that
# every run recorded the same accuracies. Run it on an otherwise idle machine.
#   usage: [REPEATS=N] benchmarks/slurm_overhead.sh [debug|release]   (default release; builds lathe first)
set -euo pipefail
cd "$(dirname "$0")/.."
config="${1:-release}"
scripts/build-plugins.sh "$config" >/dev/null
lathe="$(swift build -c "$config" --show-bin-path)/lathe"
scripts/slurm-local.sh start
eval "$(scripts/slurm-local.sh env)"
dir="$(mktemp -d /tmp/lathe-slurm-overhead.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
common=(sweep benchmarks/slurm-ten-trials.toml --no-report --no-latency --plain --threads 1)
now() { date +%s.%N; }
# Mean seconds each trial spent running (inside lathe __trial's process or task), from the database.
trial_seconds() { python3 -c 'import sqlite3, sys; print("%.3f" % sqlite3.connect(sys.argv[1]).execute("SELECT AVG(seconds) FROM trials").fetchone()[0])' "$1"; }
accuracies() {
    python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute("SELECT t.method, t.seed, m.value FROM trials t JOIN metrics m ON m.trial_id = t.id AND m.name = '"'accuracy'"' WHERE t.status = '"'done'"' ORDER BY 1, 2"): print(*r)' "$1"
}

# Alternating runs (local, slurm, local, slurm, …) so that a change in the machine's load hits
# both executors alike.
repeats="${REPEATS:-2}"
for ((r = 1; r <= repeats; r++)); do
    for executor in local slurm; do
        args=(--workers 2)
        [[ $executor == slurm ]] && args=(--executor slurm)
        t0=$(now)
        "$lathe" "${common[@]}" --out "$dir/$executor-$r" "${args[@]}" 2>"$dir/$executor-$r.log"
        t1=$(now)
        accuracies "$dir/$executor-$r/results.db" >"$dir/$executor-$r.acc"
        [[ $(wc -l <"$dir/$executor-$r.acc") -eq 10 ]] || { echo "slurm_overhead: $executor run $r: expected 10 done trials"; cat "$dir/$executor-$r.log"; exit 1; }
        cmp -s "$dir/local-1.acc" "$dir/$executor-$r.acc" || { echo "slurm_overhead: accuracies differ"; diff "$dir/local-1.acc" "$dir/$executor-$r.acc"; exit 1; }
        echo "$executor $r $(echo "$t1 - $t0" | bc) $(trial_seconds "$dir/$executor-$r/results.db")" >>"$dir/times"
    done
done
# Per executor: mean wall time, mean trial time, and the dispatch cost beyond the trials' own
# work (wall - 10 x mean trial / 2 slots), which load changes between the runs affect less.
awk -v c="$config" '
{ wall[$1] += $3; trial[$1] += $4; n[$1]++; printf "%-5s run %d: %6.1f s wall, mean trial %.2f s\n", $1, $2, $3, $4 }
END {
    for (e in n) { w[e] = wall[e] / n[e]; t[e] = trial[e] / n[e]; beyond[e] = w[e] - 10 * t[e] / 2 }
    printf "10 trials (%s build), 2 at a time, %d run(s) each; accuracies identical in every run\n", c, n["local"]
    printf "local executor: %6.1f s wall, %5.1f s beyond the trials own time\n", w["local"], beyond["local"]
    printf "slurm executor: %6.1f s wall, %5.1f s beyond the trials own time\n", w["slurm"], beyond["slurm"]
    printf "overhead per trial: %.2f s (wall), %.2f s (beyond the trials own time); target <= 2 s\n", (w["slurm"] - w["local"]) / 10, (beyond["slurm"] - beyond["local"]) / 10
}' "$dir/times"
