#!/usr/bin/env bash
# The Slurm executor's overhead: one 10-trial sweep (2 seeds x baseline + 4 PTQ widths, mlp on
# Fashion-MNIST) run with the local executor (2 workers) and through the local Slurm
# (scripts/slurm-local.sh: 2 nodes x 1 CPU, the same parallelism), one after the other in this
# run. Prints both wall times, the overhead per trial, and checks that both recorded the same
# accuracies. Run it on an otherwise idle machine.
#   usage: benchmarks/slurm_overhead.sh [debug|release]   (default release; builds lathe first)
set -euo pipefail
cd "$(dirname "$0")/.."
config="${1:-release}"
scripts/build-plugins.sh "$config" >/dev/null
lathe="$(swift build -c "$config" --show-bin-path)/lathe"
scripts/slurm-local.sh start
eval "$(scripts/slurm-local.sh env)"
dir="$(mktemp -d /tmp/lathe-slurm-overhead.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
cat >"$dir/bench.toml" <<'EOF'
name = "slurm-overhead"
model = "mlp"
seeds = [0, 1]
limit_train = 6000
limit_test = 2000
timeout = 600

[baseline]
epochs = 1

[[groups]]
name = "ptq"
stages = [{ kind = "quantize", method = "uniform/symmetric", params = { per_channel = true } }]
grid = { "quantize.params.bits" = [8, 6, 4, 3] }
EOF
common=(sweep "$dir/bench.toml" --no-report --no-latency --plain --threads 1)
now() { date +%s.%N; }

t0=$(now)
"$lathe" "${common[@]}" --out "$dir/local" --workers 2 2>"$dir/local.log"
t1=$(now)
"$lathe" "${common[@]}" --out "$dir/slurm" --executor slurm 2>"$dir/slurm.log"
t2=$(now)

accuracies() {
    python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute("SELECT t.method, t.seed, m.value FROM trials t JOIN metrics m ON m.trial_id = t.id AND m.name = '"'accuracy'"' WHERE t.status = '"'done'"' ORDER BY 1, 2"): print(*r)' "$1"
}
accuracies "$dir/local/results.db" >"$dir/local.acc"
accuracies "$dir/slurm/results.db" >"$dir/slurm.acc"
n=$(wc -l <"$dir/local.acc")
[[ $n -eq 10 && $(wc -l <"$dir/slurm.acc") -eq 10 ]] || { echo "slurm_overhead: expected 10 done trials each"; cat "$dir"/*.log; exit 1; }
cmp -s "$dir/local.acc" "$dir/slurm.acc" || { echo "slurm_overhead: accuracies differ"; diff "$dir/local.acc" "$dir/slurm.acc"; exit 1; }
# Mean seconds each trial spent in lathe __trial (the same work under both executors).
trial_seconds() { python3 -c 'import sqlite3, sys; print("%.2f" % sqlite3.connect(sys.argv[1]).execute("SELECT AVG(seconds) FROM trials").fetchone()[0])' "$1"; }
awk -v l="$(echo "$t1 - $t0" | bc)" -v s="$(echo "$t2 - $t1" | bc)" -v tl="$(trial_seconds "$dir/local/results.db")" \
    -v ts="$(trial_seconds "$dir/slurm/results.db")" -v c="$config" 'BEGIN {
    printf "10 trials (%s build), 2 at a time\n", c
    printf "local executor: %6.1f s wall (mean trial %.2f s)\n", l, tl
    printf "slurm executor: %6.1f s wall (mean trial %.2f s)\n", s, ts
    printf "overhead:       %6.1f s, %.2f s per trial (target <= 2 s); accuracies identical\n", s - l, (s - l) / 10
}'
