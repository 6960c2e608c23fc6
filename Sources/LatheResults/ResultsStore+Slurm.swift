import Foundation

/// What the Slurm executor records: every `sbatch --array` it makes (a *submission*) and which
/// trial each task of it runs. The parent re-attaches to these after a restart (`--resume`)
/// and cancels them (`lathe sweep --cancel`); a trial's current task is the one of its latest
/// submission. Nothing here is written by the tasks themselves: the parent stays the only writer.
extension ResultsStore {
    static let slurmSchema = """
    CREATE TABLE IF NOT EXISTS slurm_submissions (
        id INTEGER PRIMARY KEY, sweep_id INTEGER NOT NULL REFERENCES sweeps(id), job_name TEXT NOT NULL UNIQUE,
        array_job_id TEXT, dependency TEXT, submitted_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS slurm_tasks (
        submission_id INTEGER NOT NULL REFERENCES slurm_submissions(id), array_task_id INTEGER NOT NULL,
        trial_id INTEGER NOT NULL REFERENCES trials(id), PRIMARY KEY (submission_id, array_task_id));
    """

    /// One `sbatch --array` of a sweep. `arrayJobID` is nil between recording the submission and
    /// `sbatch` answering (a parent killed in that window leaves it so; the job name finds it).
    public struct SlurmSubmission: Sendable, Equatable {
        public var id: Int64
        public var jobName: String
        public var arrayJobID: String?
        /// The `--dependency` it was submitted with, if any.
        public var dependency: String?
        /// Trial ids by array task id (0, 1, …).
        public var trials: [Int64]
    }

    /// A trial's Slurm task: array task `taskID` of `submission`.
    public struct SlurmTask: Sendable, Equatable {
        public var submission: Int64
        public var jobName: String
        public var arrayJobID: String?
        public var taskID: Int
        public var trial: Int64
    }

    /// Records a submission about to be made — its job name, the trials of its tasks (task i runs
    /// `trials[i]`) — and marks those trials running, in one transaction. Returns its id.
    public func recordSlurmSubmission(sweep: Int64, jobName: String, dependency: String?, trials: [Int64]) throws -> Int64 {
        try db.transaction {
            try db.query("INSERT INTO slurm_submissions (sweep_id, job_name, dependency, submitted_at) VALUES (?, ?, ?, ?)",
                         [.integer(sweep), .text(jobName), dependency.map { .text($0) } ?? .null, .text(Self.now())])
            let id = db.lastInsertID
            for (index, trial) in trials.enumerated() {
                try db.query("INSERT INTO slurm_tasks (submission_id, array_task_id, trial_id) VALUES (?, ?, ?)",
                             [.integer(id), .integer(Int64(index)), .integer(trial)])
                try markRunning(trial)
            }
            return id
        }
    }

    /// Records the job id `sbatch` gave a submission.
    public func setSlurmArrayJob(submission: Int64, arrayJobID: String) throws {
        try db.query("UPDATE slurm_submissions SET array_job_id = ? WHERE id = ?", [.text(arrayJobID), .integer(submission)])
    }

    /// Forgets a submission that never reached Slurm (`sbatch` refused it, or a killed parent's
    /// job name is unknown to Slurm); its trials go back to pending. One transaction.
    public func forgetSlurmSubmission(_ submission: Int64) throws {
        try db.transaction {
            try db.query("""
                UPDATE trials SET status = 'pending', started_at = NULL
                WHERE status = 'running' AND id IN (SELECT trial_id FROM slurm_tasks WHERE submission_id = ?)
                """, [.integer(submission)])
            try db.query("DELETE FROM slurm_tasks WHERE submission_id = ?", [.integer(submission)])
            try db.query("DELETE FROM slurm_submissions WHERE id = ?", [.integer(submission)])
        }
    }

    /// The Slurm submissions of a sweep, oldest first.
    public func slurmSubmissions(sweep: Int64) throws -> [SlurmSubmission] {
        let rows = try db.query("SELECT id, job_name, array_job_id, dependency FROM slurm_submissions WHERE sweep_id = ? ORDER BY id",
                                [.integer(sweep)])
        return try rows.map { row in
            let id = row["id"]?.int ?? 0
            let trials = try db.query("SELECT trial_id FROM slurm_tasks WHERE submission_id = ? ORDER BY array_task_id", [.integer(id)])
                .compactMap { $0["trial_id"]?.int }
            return SlurmSubmission(id: id, jobName: row["job_name"]?.string ?? "", arrayJobID: row["array_job_id"]?.string,
                                   dependency: row["dependency"]?.string, trials: trials)
        }
    }

    /// Each trial's current Slurm task (the one of its latest submission), by trial id.
    public func currentSlurmTasks(sweep: Int64) throws -> [Int64: SlurmTask] {
        var out: [Int64: SlurmTask] = [:]
        for submission in try slurmSubmissions(sweep: sweep) {
            for (index, trial) in submission.trials.enumerated() {
                out[trial] = SlurmTask(submission: submission.id, jobName: submission.jobName, arrayJobID: submission.arrayJobID,
                                       taskID: index, trial: trial)
            }
        }
        return out
    }
}
