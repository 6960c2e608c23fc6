#!/usr/bin/env bash
# Acceptance measurements of the Slurm executor (issue 18) on the local Slurm
# (scripts/slurm-local.sh): each scenario prints its figures and exits non-zero when a check
# fails. The faster checks are also `swift test --filter Slurm`; these are the long ones.
#
#   scripts/slurm-acceptance.sh quickstart   sweeps/quickstart.toml through --executor slurm and the
#                                            local executor (no latency phase): same trials, same
#                                            accuracies (~25-40 min on 2 CPUs, both run at once)
#   scripts/slurm-acceptance.sh resume       kill -9 of the parent mid-sweep, then --resume: trials
#                                            and Slurm tasks counted in the database (~2 min)
#   scripts/slurm-acceptance.sh faults       one task scancel'd, one node set DOWN under a running
#                                            task (requeued), the same task killed by --time=1;
#                                            then --resume --retry-failed completes them (~5 min)
#
# Environment: LATHE (default .build/debug/lathe, built with scripts/build-plugins.sh debug),
# KEEP=1 keeps the scratch folder.
set -euo pipefail
cd "$(dirname "$0")/.."
lathe="$(realpath "${LATHE:-.build/debug/lathe}")"
[[ -x $lathe ]] || { echo "slurm-acceptance: no $lathe (scripts/build-plugins.sh debug)" >&2; exit 1; }
scripts/slurm-local.sh start >&2 || { echo "slurm-acceptance: FAIL: the local Slurm did not start" >&2; exit 1; }
eval "$(scripts/slurm-local.sh env)"
dir="$(mktemp -d /tmp/lathe-slurm-acceptance.XXXXXX)"
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$dir"' EXIT
# A copy, so that a rebuild during the run cannot change the binary the tasks check against
# their sha256 pin.
cp "$lathe" "$dir/lathe"
lathe="$dir/lathe"
fail() { echo "slurm-acceptance: FAIL: $*" >&2; exit 1; }
note() { echo "slurm-acceptance: $*" >&2; }
sql() { python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print("|".join(str(v) for v in r))' "$1" "$2"; }
common=(--no-report --no-latency --plain)

# wait_sql DB QUERY N SECONDS: until QUERY's first value is >= N.
wait_sql() {
    local deadline=$((SECONDS + $4)) n
    while ((SECONDS < deadline)); do
        n="$( [[ -f $1 ]] && sql "$1" "$2" 2>/dev/null | head -n 1 || true)"
        [[ -n $n && $n -ge $3 ]] && return 0
        sleep 0.3
    done
    fail "after $4 s: $2 < $3"
}

quickstart() {
    local t0=$SECONDS
    "$lathe" sweep sweeps/quickstart.toml --out "$dir/local" --workers 2 "${common[@]}" 2>"$dir/local.log" &
    local local_pid=$!
    "$lathe" sweep sweeps/quickstart.toml --out "$dir/slurm" --executor slurm "${common[@]}" 2>"$dir/slurm.log" ||
        fail "the Slurm sweep failed: $(tail -n 5 "$dir/slurm.log")"
    wait "$local_pid" || fail "the local sweep failed: $(tail -n 5 "$dir/local.log")"
    local q="SELECT t.method, t.seed, t.status, printf('%.10f', m.value) FROM trials t LEFT JOIN metrics m ON m.trial_id = t.id AND m.name = 'accuracy' ORDER BY 1, 2"
    sql "$dir/local/results.db" "$q" >"$dir/local.txt"
    sql "$dir/slurm/results.db" "$q" >"$dir/slurm.txt"
    paste -d'|' "$dir/local.txt" <(cut -d'|' -f3- "$dir/slurm.txt") | awk -F'|' '{printf "%-34s seed %s  local %s %s  slurm %s %s\n", $1, $2, $3, $4, $5, $6}'
    cmp -s "$dir/local.txt" "$dir/slurm.txt" || fail "the two executors recorded different trials or accuracies"
    note "quickstart: $(wc -l <"$dir/slurm.txt") trials, every status and accuracy identical (local vs slurm); $((SECONDS - t0)) s for both"
    note "slurm submissions: $(sql "$dir/slurm/results.db" "SELECT group_concat(array_job_id || coalesce(' ' || dependency, ''), ', ') FROM slurm_submissions")"
}

spec10() { # NAME: the ten-trial sweep of benchmarks/slurm-ten-trials.toml under another name
    sed "s/^name = .*/name = \"$1\"/" benchmarks/slurm-ten-trials.toml
}

resume() {
    spec10 resume >"$dir/resume.toml"
    local db="$dir/resume/results.db"
    "$lathe" sweep "$dir/resume.toml" --out "$dir/resume" --executor slurm "${common[@]}" 2>"$dir/resume-1.log" &
    local pid=$!
    wait_sql "$db" "SELECT COUNT(*) FROM trials WHERE status = 'done'" 3 300
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    note "parent killed (kill -9): $(sql "$db" "SELECT group_concat(status || '=' || n, ' ') FROM (SELECT status, COUNT(*) AS n FROM trials GROUP BY status)")"
    note "Slurm at that moment: $(squeue -h -o '%i %T' | paste -sd' ')"
    "$lathe" sweep "$dir/resume.toml" --out "$dir/resume" --executor slurm --resume "${common[@]}" 2>"$dir/resume-2.log" ||
        fail "--resume failed: $(tail -n 5 "$dir/resume-2.log")"
    grep -E "re-attached|interrupted|submitted" "$dir/resume-2.log" >&2 || true
    local counts
    counts="$(sql "$db" "SELECT (SELECT COUNT(*) FROM trials), (SELECT COUNT(*) FROM trials WHERE status = 'done'), (SELECT COUNT(*) FROM slurm_tasks), (SELECT COUNT(DISTINCT trial_id) FROM slurm_tasks), (SELECT COUNT(*) FROM slurm_submissions), (SELECT COUNT(*) FROM metrics WHERE name = 'accuracy'), (SELECT MAX(attempts) FROM trials)")"
    note "after --resume: trials|done|slurm tasks|distinct trials in tasks|submissions|accuracy rows|max attempts = $counts"
    [[ $counts == "10|10|10|10|2|10|1" ]] || fail "expected 10|10|10|10|2|10|1"
    grep -q "slurm: submitted" "$dir/resume-2.log" && fail "--resume submitted something again"
    note "resume: no trial lost or duplicated; running tasks re-attached, nothing resubmitted"
}

faults() {
    # lenet5 and 300 QAT epochs, so that the QAT trial runs for minutes even on an idle machine (Slurm's
    # one-minute --time kills it; at 100 epochs an idle 2-vCPU machine finished it inside the minute).
    cat >"$dir/faults.toml" <<'EOF'
name = "faults"
model = "lenet5"
seeds = [0]
limit_train = 3000
limit_test = 1000
timeout = 600
[baseline]
epochs = 1
[[groups]]
name = "ptq"
stages = [{ kind = "quantize", method = "uniform/symmetric", params = { per_channel = true } }]
grid = { "quantize.params.bits" = [8, 4] }
[[groups]]
name = "slow-qat"
stages = [{ kind = "quantize", method = "uniform/symmetric", params = { bits = 4, per_channel = true }, workflow = "qat", qat_epochs = 300 }]
EOF
    local db="$dir/faults/results.db" t0=$SECONDS
    "$lathe" sweep "$dir/faults.toml" --out "$dir/faults" --executor slurm --time 1 "${common[@]}" 2>"$dir/faults-1.log" &
    local pid=$!
    wait_sql "$db" "SELECT COUNT(array_job_id) FROM slurm_submissions" 2 120
    local q="SELECT s.array_job_id || '_' || k.array_task_id FROM slurm_tasks k JOIN trials t ON t.id = k.trial_id JOIN slurm_submissions s ON s.id = k.submission_id WHERE t.method = "
    local victim slow
    victim="$(sql "$db" "$q'ptq: bits=4'")"
    slow="$(sql "$db" "$q'slow-qat'")"
    scancel "$victim"
    note "scancel $victim (ptq: bits=4, waiting on the baseline)"
    # The slow task's node goes DOWN 10 s into its run: the task is requeued (Restarts=1) and runs again.
    local node="" deadline=$((SECONDS + 300))
    until [[ $(scontrol show job -o "${slow%_*}" | grep -E "ArrayTaskId=${slow#*_} " | grep -oE "JobState=[A-Z]+") == JobState=RUNNING ]]; do
        ((SECONDS < deadline)) || fail "task $slow never ran"
        sleep 0.5
    done
    sleep 10
    node="$(scontrol show job -o "${slow%_*}" | grep -E "ArrayTaskId=${slow#*_} " | grep -oE " NodeList=[^ ]+" | cut -d= -f2)"
    scontrol update NodeName="$node" State=DOWN Reason=lathe-acceptance
    note "node $node set DOWN under task $slow (slow-qat)"
    wait "$pid" || fail "the sweep failed: $(tail -n 5 "$dir/faults-1.log")"
    grep -E "requeued|FAILED" "$dir/faults-1.log" >&2 || true
    sql "$db" "SELECT method, status, coalesce(error, '') FROM trials ORDER BY id" | sed 's/^/  /' >&2
    [[ $(sql "$db" "SELECT error FROM trials WHERE method = 'ptq: bits=4'") == "slurm: CANCELLED"* ]] || fail "the scancel'd trial is not recorded CANCELLED"
    [[ $(sql "$db" "SELECT error FROM trials WHERE method = 'slow-qat'") == "slurm: TIMEOUT (TimeLimit)"* ]] || fail "the slow trial is not recorded TIMEOUT"
    [[ $(sql "$db" "SELECT COUNT(*) FROM trials WHERE status = 'done'") == 2 ]] || fail "the baseline and ptq 8-bit should be done"
    grep -q "was requeued (restart 1)" "$dir/faults-1.log" || fail "the node failure did not requeue the slow task"
    note "faults: CANCELLED and TIMEOUT recorded with Slurm's state, the rest done ($((SECONDS - t0)) s)"
    t0=$SECONDS
    "$lathe" sweep "$dir/faults.toml" --out "$dir/faults" --executor slurm --time 10 --resume --retry-failed "${common[@]}" 2>"$dir/faults-2.log" ||
        fail "--resume --retry-failed failed: $(tail -n 5 "$dir/faults-2.log")"
    [[ $(sql "$db" "SELECT COUNT(*) FROM trials WHERE status = 'done'") == 4 ]] || fail "--retry-failed left trials unfinished"
    note "--resume --retry-failed --time 10: all 4 trials done ($((SECONDS - t0)) s)"
}

case "${1:-}" in
    quickstart | resume | faults) "$1" ;;
    *) echo "usage: $0 {quickstart|resume|faults}" >&2; exit 2 ;;
esac
