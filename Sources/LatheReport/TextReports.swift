import Foundation

/// Renders a report's tables as Markdown (GitHub-flavoured pipe tables; no charts).
public enum MarkdownReport {
    static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
            .replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
    }

    static func table(_ header: [String], _ rows: [[String]], numeric: Set<Int> = []) -> String {
        var s = "| " + header.map(cell).joined(separator: " | ") + " |\n"
        s += "|" + header.indices.map { numeric.contains($0) ? " ---: " : " --- " }.joined(separator: "|") + "|\n"
        for r in rows { s += "| " + r.map(cell).joined(separator: " | ") + " |\n" }
        return s
    }

    /// The document.
    public static func render(_ model: ReportModel) -> String {
        let sw = model.sweep
        let counts = ["done", "failed", "running", "pending"].compactMap { k in model.statusCounts[k].map { "\($0) \(k)" } }
        var s = "# Sweep “\(sw.name)”\n\n"
        s += "\(model.trials.count) trials (\(counts.joined(separator: ", "))), \(model.aggregates.count) configurations. "
        s += "Created \(sw.createdAt) on \(sw.host), Lathe \(sw.latheVersion), \(sw.workers) worker(s) × \(sw.threads) thread(s). "
        s += "Database: `\(model.database)` (sweep id \(sw.id)); spec: `\(sw.specPath)`.\n\n"
        s += model.qualityNote
        s += "Accuracy in % (2 decimals); ± is the 95% CI half-width over seeds (Student's t, n−1 dof); (n=1): a single seed, no CI. "
        s += "Paired columns (the primary figures): each trial against the baseline trial of the same seed, accuracy as a "
        s += "difference in points, size as a ratio and speedups (already ratios to the baseline) by their geometric mean; mean [95% CI by paired t], boot [percentile bootstrap 95% CI, "
        s += "\(PairedStatistic.bootstrapResamples) resamples] from \(PairedStatistic.bootstrapMinimumPairs) pairs on, n = pairs. "
        s += "Δ vs baseline in accuracy points. Charts: see report.html. Raw values per trial: trials.csv, report.json.\n\n"
        s += LatencySummary.lines(model).map { $0 + "\n" }.joined(separator: "\n") + "\n"

        s += "## Methods\n\n"
        if model.aggregates.isEmpty {
            s += "No trial of this sweep is done yet.\n\n"
        } else {
            let columns = AggregateColumns.all(model)
            let header = ["method", "group", "n"] + columns.map(\.title) + ["trials"]
            let rows = MethodRows.rows(model).map { a, isTeacher in
                [(isTeacher ? "↳ " : "") + a.method, a.group, "\(a.n)"] + columns.map { $0.cell(a) } + [ReportFormat.trialIDs(a.trialIDs)]
            }
            s += table(header, rows, numeric: Set(2..<(3 + columns.count))) + "\n"
        }

        s += "## Pareto fronts (method means)\n\n"
        for (front, what) in [(model.paretoSize, "accuracy vs size"), (model.paretoLatency, "accuracy vs latency at batch 1")] {
            guard model.hasLatency || front.costMetric != ReportMetric.latencyB1 else {
                s += "- \(what): \(LatencySummary.notMeasured)\n"
                continue
            }
            let names = front.front.map { i -> String in
                let p = front.points[i]
                return "\(p.method) (\(ReportFormat.percent(p.quality)) %, \(ReportFormat.value(p.cost, metric: front.costMetric))"
                    + "\(front.costMetric == ReportMetric.latencyB1 ? " ms" : ""))"
            }
            s += "- \(what): \(names.isEmpty ? "–" : names.joined(separator: " → "))\n"
        }
        s += "\n"

        if !model.layerTables.isEmpty {
            s += "## Per-layer sensitivity and statistics\n\n"
            for t in model.layerTables {
                s += "### \(t.method) (\(t.group))\n\n"
                let rows = t.rows.map { r in
                    [r.layer] + t.statNames.map { ReportFormat.statistic(r.stats[$0], metric: $0) }
                        + [ReportFormat.trialIDs(Set(r.stats.values.flatMap(\.trialIDs)).sorted())]
                }
                s += table(["layer"] + t.statNames.map(ReportFormat.title) + ["trials"], rows, numeric: Set(1...t.statNames.count)) + "\n"
            }
        }

        s += ActivationSection.markdown(model)
        s += CalibrationVariance.markdown(model.calibrationVariance)

        s += "## Failures\n\n"
        if model.failures.isEmpty {
            s += "None.\n\n"
        } else {
            s += table(["trial", "method", "group", "seed", "attempts", "error"],
                       model.failures.map { ["#\($0.id)", $0.method, $0.group, "\($0.seed)", "\($0.attempts)", $0.error ?? ""] }) + "\n"
        }

        s += "## Trials\n\n"
        let columns = TrialColumns.shown(model)
        let rows = model.trials.map { t in ["#\(t.id)", t.method, t.group, "\(t.seed)", t.status] + columns.map { $0.cell(t) } }
        s += table(["trial", "method", "group", "seed", "status"] + columns.map(\.title), rows,
                   numeric: Set(5..<(5 + columns.count)))
        return s
    }
}

/// CSV renderings (RFC 4180 quoting, LF line ends): one row per trial, and one row per configuration.
public enum CSVReport {
    /// Quotes a field when it holds a comma, quote or line break.
    public static func field(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// A number exactly as stored (shortest text that reads back to the same Double).
    public static func number(_ v: Double) -> String { "\(v)" }

    static func line(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\n" }

    /// `trials.csv`: trial_id first, then the trial's columns, then every metric of the sweep
    /// (empty where a trial lacks it).
    public static func trials(_ model: ReportModel) -> String {
        var s = line(["trial_id", "sweep", "key", "group", "method", "seed", "status", "attempts", "seconds", "error"] + model.metricNames)
        for t in model.trials {
            s += line(["\(t.id)", model.sweep.name, t.key, t.group, t.method, "\(t.seed)", t.status, "\(t.attempts)",
                       t.seconds.map(number) ?? "", t.error ?? ""]
                      + model.metricNames.map { t.metrics[$0].map(number) ?? "" })
        }
        return s
    }

    /// `aggregates.csv`: per configuration, n and the trial ids, then mean, sample std, 95% CI
    /// half-width and n of every metric, then per paired metric the sweep has
    /// (`paired_<metric>_<kind>_…`; speedups only when latency was measured) the estimate
    /// (geometric mean for ratios), sample std (of the logs for ratios), paired-t 95% interval,
    /// bootstrap interval (empty below 5 pairs), the number of pairs and the trials without a
    /// baseline of their seed.
    public static func aggregates(_ model: ReportModel) -> String {
        var header = ["group", "method", "n", "trial_ids", "seeds"]
        for m in model.metricNames { header += ["\(m)_mean", "\(m)_std", "\(m)_ci95", "\(m)_n"] }
        // The paired metrics the sweep has (no speedups after --no-latency).
        let paired = ReportMetric.paired.filter { model.metricNames.contains($0.metric) }
        for (m, kind) in paired {
            let p = "paired_\(m)_\(kind.rawValue)"
            header += ["\(p)_mean", "\(p)_std", "\(p)_t_lower", "\(p)_t_upper", "\(p)_boot_lower", "\(p)_boot_upper",
                       "\(p)_n", "\(p)_unpaired_trial_ids"]
        }
        var s = line(header)
        for a in model.aggregates {
            var row = [a.group, a.method, "\(a.n)", a.trialIDs.map(String.init).joined(separator: " "),
                       a.seeds.map(String.init).joined(separator: " ")]
            for m in model.metricNames {
                let st = a[m]
                row += [st.map { number($0.mean) } ?? "", st?.std.map(number) ?? "", st?.ciHalfWidth.map(number) ?? "",
                        st.map { "\($0.n)" } ?? ""]
            }
            for (m, _) in paired {
                let p = a.paired[m], st = p?.statistic
                let interval = st?.ciHalfWidth != nil
                row += [p.map { number($0.estimate) } ?? "", st?.std.map(number) ?? "",
                        interval ? p.map { number($0.lower) } ?? "" : "", interval ? p.map { number($0.upper) } ?? "" : "",
                        p?.bootstrapLower.map(number) ?? "", p?.bootstrapUpper.map(number) ?? "",
                        p.map { "\($0.n)" } ?? "", p?.unpairedTrialIDs.map(String.init).joined(separator: " ") ?? ""]
            }
            s += line(row)
        }
        return s
    }
}

/// `report.json`: the `ReportModel`, pretty-printed with sorted keys.
public enum JSONReport {
    public static func render(_ model: ReportModel) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(model)
    }
}
