#!/usr/bin/env bash
# A real single-host Slurm (Debian's slurmctld/slurmd/munge packages) for the tests and for users
# trying the Slurm executor. Everything lives in one project-controlled directory; nothing in
# /etc/slurm or /etc/munge is touched and no system service is started.
#
#   scripts/slurm-local.sh start    install packages if missing (apt-get), write the config, start
#                                   munged, slurmctld and one slurmd per node; wait until every
#                                   node is idle. Idempotent: what already runs is left alone.
#   scripts/slurm-local.sh stop     cancel this cluster's jobs (unless --keep-jobs), then stop the
#                                   daemons started here (by their pid files, nothing else)
#   scripts/slurm-local.sh status   sinfo and squeue of this cluster (exit 1 if it is not running)
#   scripts/slurm-local.sh env      the export every Slurm command needs: eval "$(... env)"
#   scripts/slurm-local.sh purge    stop, then delete the state directory (jobs, logs, key)
#
# Environment:
#   LATHE_SLURM_DIR      state directory (default /tmp/lathe-slurm): etc/ (slurm.conf),
#                        munge/ (key, socket), state/ (slurmctld), spool/<node>/, log/, run/ (pids)
#   LATHE_SLURM_PORT     slurmctld port (default 16817); node i listens on PORT+i
#   LATHE_SLURM_NODES    number of nodes (default 2); each gets LATHE_SLURM_CPUS CPUs
#   LATHE_SLURM_CPUS     CPUs per node (default: host CPUs / nodes, at least 1)
#   LATHE_SLURM_TIMEOUT  seconds `start` waits for idle nodes (default 60)
#
# Runs as root (slurmd must be root to run jobs as their submitter); apt-get uses sudo otherwise.
set -euo pipefail

dir="${LATHE_SLURM_DIR:-/tmp/lathe-slurm}"
port="${LATHE_SLURM_PORT:-16817}"
nnodes="${LATHE_SLURM_NODES:-2}"
host_cpus="$(nproc)"
cpus="${LATHE_SLURM_CPUS:-$(( host_cpus / nnodes > 0 ? host_cpus / nnodes : 1 ))}"
timeout="${LATHE_SLURM_TIMEOUT:-60}"
conf="$dir/etc/slurm.conf"
export SLURM_CONF="$conf"

log() { echo "slurm-local: $*" >&2; }
started=0 # set once this `start` launched a daemon: a failed start then stops them again
die() {
    echo "slurm-local: error: $*" >&2
    ((started)) && { cmd_stop --keep-jobs 2>/dev/null || true; echo "slurm-local: stopped the daemons this start launched" >&2; }
    exit 1
}

node_names() { local i; for ((i = 1; i <= nnodes; i++)); do echo "lathe$i"; done; }

# pid_alive PIDFILE NAME: the pid file names a live process whose command is NAME.
pid_alive() {
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(tr -dc 0-9 <"$1")"
    [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2"* ]]
}

install_packages() {
    local packages=(slurmctld slurmd slurm-client munge) missing=() p sudo=""
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    # The packages' postinst tries to start the system services; without an init system that
    # fails harmlessly (invoke-rc.d/policy-rc.d). This script never uses those services.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

write_config() {
    local host memory node i tmp
    host="$(hostname -s)"
    # RealMemory: the host's memory split between the nodes (MB), a little kept back.
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 / nnodes ))
    mkdir -p "$dir/etc"
    tmp="$(mktemp "$dir/etc/slurm.conf.XXXXXX")"
    cat >"$tmp" <<EOF
# Written by scripts/slurm-local.sh; rewritten on every start.
ClusterName=lathe
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# No systemd, no usable cgroups (containers, gVisor): track processes through /proc, no task
# binding, no cgroup plugins.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Schedule on every event, not every few seconds (trials are short and many).
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=2,bf_interval=1
# No slurmdbd, so sacct has nothing to read; finished jobs are read with scontrol while they
# are younger than MinJobAge, and forever from the job completion file.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
# Quick tests: finished jobs stay visible to scontrol/squeue for an hour; a killed job gets
# SIGKILL 2 s after SIGTERM; no grace beyond the time limit.
MinJobAge=3600
KillWait=2
OverTimeLimit=0
InactiveLimit=0
ReturnToService=2
RebootProgram=/bin/true
MailProg=/bin/true
# The nodes share one host: their CPU counts are a split of it, not its hardware.
SlurmdParameters=config_overrides
EOF
    i=0
    while read -r node; do
        i=$((i + 1))
        echo "NodeName=$node NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port + i)) CPUs=$cpus RealMemory=$memory State=UNKNOWN" >>"$tmp"
    done < <(node_names)
    echo "PartitionName=lathe Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >>"$tmp"
    if [[ -f "$conf" ]] && cmp -s "$tmp" "$conf"; then
        rm -f "$tmp"
    else
        if [[ -f "$conf" ]] && pid_alive "$dir/run/slurmctld.pid" slurmctld; then
            log "warning: the configuration changed while slurmctld runs; 'stop' then 'start' to apply it"
        fi
        chmod 644 "$tmp"
        mv "$tmp" "$conf"
    fi
}

start_munge() {
    local m="$dir/munge"
    # munged insists on directories nobody else may write to; clients only need the socket.
    mkdir -p "$m/private"
    chmod 755 "$m"
    chmod 700 "$m/private"
    if [[ ! -s "$m/private/munge.key" ]]; then
        mungekey --create --keyfile="$m/private/munge.key" 2>/dev/null ||
            { dd if=/dev/urandom of="$m/private/munge.key" bs=1024 count=1 status=none && chmod 600 "$m/private/munge.key"; }
    fi
    pid_alive "$m/munged.pid" munged && return 0
    rm -f "$m/munge.socket" "$m/munge.socket.lock"
    started=1
    # Every daemon gets /dev/null and its own log as standard streams: one that inherited the
    # caller's pipes would keep them open, and a caller reading to end of file would wait forever.
    munged --force --socket="$m/munge.socket" --key-file="$m/private/munge.key" \
        --pid-file="$m/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$m/private/munged.seed" \
        </dev/null >>"$dir/log/munged.log" 2>&1 ||
        die "munged did not start; see $dir/log/munged.log"
    local t
    for ((t = 0; t < 50; t++)); do
        [[ -S "$m/munge.socket" ]] && return 0
        sleep 0.1
    done
    die "munged made no socket at $m/munge.socket; see $dir/log/munged.log"
}

start_daemons() {
    if ! pid_alive "$dir/run/slurmctld.pid" slurmctld; then
        started=1
        slurmctld -f "$conf" </dev/null >>"$dir/log/slurmctld.log" 2>&1 || die "slurmctld did not start; see $dir/log/slurmctld.log"
    fi
    while read -r node; do
        if ! pid_alive "$dir/run/slurmd-$node.pid" slurmd; then
            mkdir -p "$dir/spool/$node"
            started=1
            slurmd -f "$conf" -N "$node" </dev/null >>"$dir/log/slurmd-$node.log" 2>&1 || die "slurmd $node did not start; see $dir/log/slurmd-$node.log"
        fi
    done < <(node_names)
}

logs_hint() {
    local f
    echo "logs: $dir/log/slurmctld.log $(for f in $(node_names); do printf '%s ' "$dir/log/slurmd-$f.log"; done)"
    for f in "$dir/log/slurmctld.log" $(for n in $(node_names); do echo "$dir/log/slurmd-$n.log"; done); do
        [[ -f "$f" ]] || continue
        echo "--- last lines of $f"
        tail -n 8 "$f"
    done
}

# Waits until every node is idle (or mixed/allocated: busy with jobs after a restart).
wait_idle() {
    local deadline=$((SECONDS + timeout)) states resumed=0
    while ((SECONDS < deadline)); do
        for d in slurmctld $(node_names); do
            local pidfile="$dir/run/$d.pid" name=slurmctld what=slurmctld
            [[ $d != slurmctld ]] && pidfile="$dir/run/slurmd-$d.pid" name=slurmd what="slurmd $d"
            if ! pid_alive "$pidfile" "$name" && ((SECONDS > deadline - timeout + 3)); then
                die "$what exited; $(logs_hint)"
            fi
        done
        states="$(sinfo -h -N -p lathe -o '%N %t' 2>/dev/null | sort -u)" || states=""
        if [[ -n "$states" ]]; then
            # Nodes an earlier run set down or drained (by hand or by a test) are resumed once.
            if ((!resumed)) && grep -qE ' (down|drain|drng|drained|fail)' <<<"$states"; then
                local bad
                bad="$(awk '$2 ~ /^(down|drain|drng|drained|fail)$/ {print $1}' <<<"$states" | paste -sd,)"
                scontrol update NodeName="$bad" State=RESUME 2>/dev/null || true
                resumed=1
            fi
            if ! grep -qvE ' (idle|mix|alloc)$' <<<"$states"; then
                return 0
            fi
        fi
        sleep 0.5
    done
    die "nodes not idle after ${timeout}s: $(tr '\n' ' ' <<<"$states"); $(logs_hint)"
}

# Closes every descriptor above 2 this shell inherited (but bash's own script descriptor, 255):
# a daemon started from here would keep them open for its whole life, and a caller that waits for
# one of them to close (Foundation's Process does, to notice that its child ended) would wait
# forever on a script that has long exited.
close_inherited_fds() {
    local fd
    for fd in /proc/$$/fd/*; do
        fd="${fd##*/}"
        [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2 && fd != 255)) && eval "exec $fd>&-" 2>/dev/null || true
    done
}

cmd_start() {
    [[ $(id -u) -eq 0 ]] || die "start needs root (slurmd runs jobs as their submitter)"
    close_inherited_fds
    install_packages
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
    write_config
    start_munge
    start_daemons
    wait_idle
    log "running: $(sinfo -h -N -p lathe -o '%N/%c' | sort -u | paste -sd' ') (SLURM_CONF=$conf)"
}

# stop_pids NAME PIDFILE...: SIGTERM to each live NAME process named by a pid file, then waits
# for all of them (SIGKILL after 10 s).
stop_pids() {
    local name=$1 f pid pids=() t
    shift
    for f in "$@"; do
        if pid_alive "$f" "$name"; then
            pid="$(tr -dc 0-9 <"$f")"
            kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
        fi
    done
    for ((t = 0; t < 100; t++)); do
        local alive=()
        for pid in "${pids[@]}"; do [[ -d "/proc/$pid" ]] && alive+=("$pid"); done
        ((${#alive[@]})) || { rm -f "$@"; return 0; }
        sleep 0.1
    done
    log "$name (${alive[*]}) ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "${alive[@]}" 2>/dev/null || true
    rm -f "$@"
}

cmd_stop() {
    local keep_jobs=0 t
    [[ "${1:-}" == "--keep-jobs" ]] && keep_jobs=1
    if ((!keep_jobs)) && pid_alive "$dir/run/slurmctld.pid" slurmctld &&
        [[ -n "$(squeue -h -o %i 2>/dev/null)" ]]; then
        # Without cgroups a job's processes outlive slurmd; cancel them while slurmd still runs.
        squeue -h -o %F | sort -u | xargs -r scancel 2>/dev/null || true
        for ((t = 0; t < 100; t++)); do
            [[ -z "$(squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null)" ]] && break
            sleep 0.1
        done
    fi
    local pidfiles=() node
    for node in $(node_names); do pidfiles+=("$dir/run/slurmd-$node.pid"); done
    stop_pids slurmd "${pidfiles[@]}"
    stop_pids slurmctld "$dir/run/slurmctld.pid"
    stop_pids munged "$dir/munge/munged.pid"
    log "stopped"
}

cmd_status() {
    pid_alive "$dir/run/slurmctld.pid" slurmctld || { log "not running (no slurmctld for $conf)"; return 1; }
    sinfo
    squeue
}

case "${1:-}" in
    start) cmd_start ;;
    stop) shift; cmd_stop "$@" ;;
    status) cmd_status ;;
    env) echo "export SLURM_CONF=$conf" ;;
    purge) cmd_stop; rm -rf "$dir"; log "removed $dir" ;;
    *) echo "usage: $0 {start|stop [--keep-jobs]|status|env|purge}" >&2; exit 2 ;;
esac
