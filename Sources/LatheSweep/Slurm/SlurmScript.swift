import Foundation

/// The batch script of a sweep's Slurm array tasks (`<out>/slurm/sweep.sbatch`, rewritten at
/// every start of the sweep). One array task runs one trial: task i of a submission runs the
/// trial on line i + 1 of the submission's task list (the script's argument), with the trial's
/// job file from `<out>/slurm/jobs/`. Before running, it checks the sha256 of the `lathe`
/// executable and of every pinned plugin library against the values the parent computed and
/// pinned, so a node with another build (or a half-synced shared directory) fails the trial
/// instead of running something else. It writes the trial's log to `<out>/logs/trial-N.log` and,
/// last, an exit record `<out>/slurm/results/trial-N.exit` (status, seconds, node, restarts;
/// written to a temporary name and renamed), which is how the parent learns a task ended
/// normally; the trial's result JSON is written atomically by `lathe __trial` itself.
struct SlurmScript {
    /// `sha256  path` pairs the node must match (the executable first).
    var pins: [(sha256: String, path: String)]
    var executable: String
    var out: String
    var sweepName: String
    var threads: Int
    /// The `--time` value.
    var time: String
    var options: SlurmOptions

    /// Where the script, job files, task lists and results live.
    static func directory(out: String) -> String { out + "/slurm" }
    static func jobFile(out: String, trial: Int64) -> URL { URL(fileURLWithPath: "\(out)/slurm/jobs/trial-\(trial).job.json") }
    static func resultFile(out: String, trial: Int64) -> URL { URL(fileURLWithPath: "\(out)/slurm/results/trial-\(trial).result.json") }
    static func exitFile(out: String, trial: Int64) -> URL { URL(fileURLWithPath: "\(out)/slurm/results/trial-\(trial).exit") }
    static func taskList(out: String, jobName: String) -> URL { URL(fileURLWithPath: "\(out)/slurm/tasks/\(jobName).txt") }

    /// The script's text.
    var text: String {
        var directives = [
            "--output=\(out)/logs/slurm-%A_%a.out",
            "--time=\(time)",
            "--cpus-per-task=\(options.cpusPerTask ?? threads)",
            // A task on a failed or preempted node goes back to the queue and runs again (the
            // script starts it over); Slurm's default depends on the cluster's JobRequeue.
            "--requeue",
        ]
        if let p = options.partition { directives.append("--partition=\(p)") }
        if let a = options.account { directives.append("--account=\(a)") }
        if let m = options.memory { directives.append("--mem=\(m)") }
        let pinLines = pins.map { "\($0.sha256)  \($0.path)" }.joined(separator: "\n")
        return """
        #!/bin/bash
        # Written by `lathe sweep --executor slurm` for sweep '\(sweepName)'; rewritten at every start
        # of the sweep. Submitted as `sbatch --array=0-N[%K] --job-name=NAME [--dependency=afterok:ID]
        # sweep.sbatch TASKLIST`: array task i runs the trial on line i+1 of TASKLIST.
        \(directives.map { "#SBATCH \($0)" }.joined(separator: "\n"))
        set -u
        out=\(Self.quote(out))
        trial=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$1")
        if [[ ! $trial =~ ^[0-9]+$ ]]; then
            echo "lathe: no trial for array task $SLURM_ARRAY_TASK_ID in $1" >&2
            exit 2
        fi
        job="$out/slurm/jobs/trial-$trial.job.json"
        result="$out/slurm/results/trial-$trial.result.json"
        status="$out/slurm/results/trial-$trial.exit"
        log="$out/logs/trial-$trial.log"
        # A requeued task (node failure, preemption) starts over: nothing of an earlier run counts.
        rm -f "$result" "$status"
        echo "lathe: trial $trial, task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname) (restart ${SLURM_RESTART_COUNT:-0})" >"$log"
        start=$(date +%s.%N)
        # The executable and the plugin libraries must be the ones the sweep pinned.
        if ! sha256sum --quiet --strict -c - >>"$log" 2>&1 <<'PINS'
        \(pinLines)
        PINS
        then
            echo "lathe: sha256 pins do not match on $(hostname): this node does not see the build the sweep was started with (shared filesystem?)" >>"$log"
            code=3
        else
            OMP_NUM_THREADS=\(threads) \(Self.quote(executable)) __trial --job "$job" --result "$result" >>"$log" 2>&1
            code=$?
        fi
        end=$(date +%s.%N)
        printf '{"status": %d, "seconds": %s, "node": "%s", "restarts": %d}\\n' "$code" \\
            "$(echo "$end - $start" | awk '{printf "%.3f", $1 - $3}')" "$(hostname)" "${SLURM_RESTART_COUNT:-0}" >"$status.tmp.$$"
        mv -f "$status.tmp.$$" "$status"
        exit "$code"

        """
    }

    /// `value` single-quoted for bash.
    static func quote(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// What a task's exit record says (`trial-N.exit`, written by the batch script).
struct SlurmExitRecord: Codable, Equatable {
    var status: Int32
    var seconds: Double
    var node: String
    var restarts: Int

    /// The record at `url`, or nil while there is none (or it does not decode: it is renamed
    /// into place whole, so a partial one is never seen).
    static func read(_ url: URL) -> SlurmExitRecord? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(SlurmExitRecord.self, from: data)
    }
}
