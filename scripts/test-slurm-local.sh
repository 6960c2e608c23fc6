#!/usr/bin/env bash
# Starts the local Slurm (scripts/slurm-local.sh) and runs real jobs through it: a job array
# writing files to a shared directory, an afterok dependency, exit codes and signals, scancel
# of one array task, a requeue, a job killed for its time limit; then reads every final state
# back. Exits non-zero with the reason on any failure, including "Slurm did not start": nothing
# is skipped. Takes about 70-100 s, most of it waiting for the time limit (Slurm's resolution
# is one minute and slurmctld checks limits every 30 s). Stops the cluster at the end unless it
# was already running before.
set -euo pipefail
cd "$(dirname "$0")/.."
local_slurm=scripts/slurm-local.sh

fail() { echo "test-slurm-local: FAIL: $*" >&2; exit 1; }
note() { echo "test-slurm-local: $*" >&2; }

was_running=0
$local_slurm status >/dev/null 2>&1 && was_running=1
shared="$(mktemp -d /tmp/lathe-slurm-test.XXXXXX)"
chmod 755 "$shared"
cleanup() {
    local rc=$?
    if ((rc != 0)) && [[ -n "${SLURM_CONF:-}" ]]; then
        echo "--- squeue -t all"; squeue -t all 2>&1 | tail -n 30 || true
    fi >&2
    ((was_running)) || $local_slurm stop >/dev/null 2>&1 || true
    rm -rf "$shared"
    exit $rc
}
trap cleanup EXIT

t0=$SECONDS
$local_slurm start || fail "the local Slurm did not start (see the messages above)"
eval "$($local_slurm env)"
note "cluster up in $((SECONDS - t0)) s: $(sinfo -h -N -o '%N:%t' | sort -u | paste -sd' ')"

# job_field JOBID KEY [ARRAY_TASK]: one field of `scontrol show job -o` (finished jobs stay
# visible for MinJobAge=3600 s), empty when there is no such record (yet: pending array tasks
# share one record, ArrayTaskId=2-3). Array tasks are picked by ArrayTaskId.
job_field() {
    local line
    if [[ -n "${3:-}" ]]; then
        line="$(scontrol show job -o "$1" | grep -E " ArrayTaskId=$3 ")" || true
    else
        line="$(scontrol show job -o "$1" | head -n 1)"
    fi
    [[ -n "$line" ]] || return 0
    grep -oE "(^| )$2=[^ ]*" <<<"$line" | head -n 1 | cut -d= -f2-
}

# wait_done SECONDS JOBID...: until none of the jobs is pending, running, completing or
# configuring.
wait_done() {
    local limit=$1 deadline; shift
    deadline=$((SECONDS + limit))
    while [[ -n "$(squeue -h -t PD,R,CG,CF,S -j "$(IFS=,; echo "$*")" -o %i 2>/dev/null)" ]]; do
        ((SECONDS < deadline)) || fail "jobs $* not finished after ${limit}s"
        sleep 0.2
    done
}

# wait_state SECONDS JOBID STATE [TASK]
wait_state() {
    local deadline=$((SECONDS + $1))
    until [[ "$(job_field "$2" JobState "${4:-}")" == "$3" ]]; do
        ((SECONDS < deadline)) || fail "job $2${4:+ task $4} not $3 after $1 s (is $(job_field "$2" JobState "${4:-}"))"
        sleep 0.2
    done
}

expect() { # JOBID TASK KEY VALUE
    local got
    got="$(job_field "$1" "$3" "$2")"
    [[ "$got" == "$4" ]] || fail "job $1${2:+ task $2}: $3=$got, expected $4"
}

# The time-limit job first: it takes the longest (a minute at least).
timeout_job=$(sbatch --parsable --job-name=timeout --time=00:00:05 -o "$shared/timeout.out" \
    --wrap 'trap "echo SIGTERM; exit 143" TERM; sleep 600 & wait')
timeout_submitted=$SECONDS

# 1. A job array writing to the shared directory, and a job depending on all of it.
cat >"$shared/task.sh" <<'EOF'
#!/bin/bash
echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID on $SLURMD_NODENAME" >"$1/out-$SLURM_ARRAY_TASK_ID.txt"
EOF
array=$(sbatch --parsable --array=0-3 -o "$shared/array-%A_%a.out" "$shared/task.sh" "$shared")
after=$(sbatch --parsable --dependency=afterok:"$array" -o /dev/null \
    --wrap "ls $shared/out-*.txt | wc -l >$shared/after.txt")
wait_done 30 "$array" "$after"
for i in 0 1 2 3; do
    expect "$array" "$i" JobState COMPLETED
    expect "$array" "$i" ExitCode 0:0
    grep -q "^task $i of $array on lathe" "$shared/out-$i.txt" || fail "array task $i wrote no output"
done
expect "$after" "" JobState COMPLETED
[[ "$(cat "$shared/after.txt")" == 4 ]] || fail "the afterok job ran before all 4 array outputs existed"
note "array $array: 4 tasks COMPLETED on $(cat "$shared"/out-*.txt | awk '{print $NF}' | sort -u | paste -sd,); afterok job $after ran after them"

# 2. Exit codes, a signal, scancel of one array task; a dependency that can never be satisfied.
cat >"$shared/mixed.sh" <<'EOF'
#!/bin/bash
case $SLURM_ARRAY_TASK_ID in
    0) exit 0 ;;
    1) exit 3 ;;
    2) sleep 600 ;;
    3) kill -KILL $$ ;;
esac
EOF
mixed=$(sbatch --parsable --array=0-3 -o /dev/null "$shared/mixed.sh")
never=$(sbatch --parsable --dependency=afterok:"$mixed" -o /dev/null --wrap true)
wait_state 30 "$mixed" RUNNING 2
scancel "${mixed}_2"
wait_done 30 "$mixed"
expect "$mixed" 0 JobState COMPLETED
expect "$mixed" 1 JobState FAILED
expect "$mixed" 1 ExitCode 3:0
expect "$mixed" 1 Reason NonZeroExitCode
expect "$mixed" 2 JobState CANCELLED
expect "$mixed" 3 JobState FAILED
expect "$mixed" 3 ExitCode 0:9
wait_state 10 "$never" PENDING
until [[ "$(job_field "$never" Reason)" == DependencyNeverSatisfied ]]; do
    ((SECONDS < timeout_submitted + 60)) || fail "job $never: Reason=$(job_field "$never" Reason), expected DependencyNeverSatisfied"
    sleep 0.2
done
scancel "$never"
note "array $mixed: COMPLETED, FAILED 3:0, CANCELLED (scancel), FAILED 0:9 (SIGKILL); afterok job $never DependencyNeverSatisfied"

# 3. A requeued job runs again with SLURM_RESTART_COUNT=1 (after CredExpire+1 = 11 s).
requeued=$(sbatch --parsable --requeue -o /dev/null \
    --wrap "echo \${SLURM_RESTART_COUNT:-0} >>$shared/restarts.txt; [ \${SLURM_RESTART_COUNT:-0} -ge 1 ] || sleep 600")
wait_state 30 "$requeued" RUNNING
until [[ -s "$shared/restarts.txt" ]]; do sleep 0.1; done
requeue_at=$SECONDS
scontrol requeue "$requeued"
wait_state 40 "$requeued" COMPLETED
expect "$requeued" "" Restarts 1
[[ "$(paste -sd, "$shared/restarts.txt")" == 0,1 ]] || fail "requeued job ran as $(paste -sd, "$shared/restarts.txt"), expected 0,1"
note "job $requeued: requeued, ran again after $((SECONDS - requeue_at)) s, COMPLETED with Restarts=1"

# 4. Throughput: ten trivial array tasks, submission to the last one's end (on the CPUs the
# time-limit job leaves free).
free=$(sinfo -h -o %C | cut -d/ -f2)
start_ns=$(date +%s%N)
ten=$(sbatch --parsable --array=0-9 -o /dev/null --wrap true)
wait_done 60 "$ten"
ms=$((($(date +%s%N) - start_ns) / 1000000))
for i in $(seq 0 9); do expect "$ten" "$i" JobState COMPLETED; done
note "10 trivial array tasks on $free free CPU(s): $ms ms ($((ms / 10)) ms per task)"

# 5. The time limit: rounded up to one minute, enforced at slurmctld's next 30 s check.
wait_done 150 "$timeout_job"
expect "$timeout_job" "" JobState TIMEOUT
expect "$timeout_job" "" Reason TimeLimit
grep -q "DUE TO TIME LIMIT" "$shared/timeout.out" || fail "job $timeout_job output lacks Slurm's time-limit message"
note "job $timeout_job (--time=00:00:05): TIMEOUT after $((SECONDS - timeout_submitted)) s"

# The job completion file keeps every final state, also after MinJobAge.
comp="$(dirname "$SLURM_CONF")/../log/jobcomp.txt"
grep -q "JobId=$timeout_job .*JobState=TIMEOUT" "$comp" || fail "$comp has no TIMEOUT record of job $timeout_job"
note "passed in $((SECONDS - t0)) s"
