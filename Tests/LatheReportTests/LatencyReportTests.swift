import Foundation
import Testing
@testable import LatheReport

/// The latency phase's figures in the report: speedups with intervals and noise marks, the
/// control and noise header, `--no-latency` sweeps.
@Suite("latency in the report")
struct LatencyReportTests {
    @Test func speedupsCarryTheirIntervalAndAreMarkedWithinNoise() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        // Over seeds: the geometric mean of the recorded speedups with the log-scale t interval.
        let int4 = try #require(model.aggregate(group: "quant", method: "uniform int4"))
        let f256 = try #require(SpeedupFigure.of(int4, ReportMetric.speedupB256, in: model))
        let logs: [Double] = [0.95, 1.06, 1.0].map { log($0) }
        let mean: Double = logs.reduce(0, +) / 3
        let sd: Double = (logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot()
        #expect(f256.interval == .seeds && f256.n == 3)
        #expect(abs(f256.estimate - exp(mean)) < 1e-12)
        #expect(abs(try #require(f256.lower) - exp(mean - 4.302653 * sd / 3.0.squareRoot())) < 1e-9)
        #expect(f256.withinNoise)
        // int8 at batch 1: 0.22/0.153, 0.23/0.156, 0.24/0.159, clearly faster.
        let int8Aggregate = try #require(model.aggregate(group: "quant", method: "uniform int8"))
        let int8 = try #require(SpeedupFigure.of(int8Aggregate, ReportMetric.speedupB1, in: model))
        let ratios: [Double] = [0.22 / 0.153, 0.23 / 0.156, 0.24 / 0.159]
        let expected: Double = exp(ratios.map { log($0) }.reduce(0, +) / 3)
        #expect(abs(int8.estimate - expected) < 1e-12 && !int8.withinNoise)
        // One seed: that trial's per-round interval.
        let lowbitAggregate = try #require(model.aggregate(group: "quant", method: "lowbit int2"))
        let lowbit = try #require(SpeedupFigure.of(lowbitAggregate, ReportMetric.speedupB1, in: model))
        #expect(lowbit.interval == .rounds && lowbit.n == 1 && lowbit.withinNoise)
        #expect(ReportFormat.speedup(lowbit) == "1.00× [0.98, 1.02] within noise")
        let (int8Lower, int8Upper) = (try #require(int8.lower), try #require(int8.upper))
        #expect(ReportFormat.speedup(int8) == String(format: "%.2f× [%.2f, %.2f] (n=3)", int8.estimate, int8Lower, int8Upper))

        let md = MarkdownReport.render(model)
        #expect(md.contains(" | Speedup b1 (95% CI) | Speedup b256 (95% CI) | Accuracy (%) |"))
        #expect(md.contains("| lowbit int2 | quant | 1 | -10.65 (n=1) | 0.064× (n=1) | 1.00× [0.98, 1.02] within noise | "))
        // The trials table: each trial's speedup with its per-round interval.
        #expect(md.contains(" | Speedup b1 (95% CI) | Speedup b256 (95% CI) | "))
        let html = HTMLReport.render(model)
        #expect(occurrences(of: "within noise</td>", in: html) >= 3, "int4 b256, lowbit b1, the baseline's controls")
        #expect(!html.contains(">nan") && !html.contains("NaN"))
    }

    @Test func headerShowsTheControlAndTheNoise() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let lines = LatencySummary.lines(model)
        let baselineIDs = model.trials.filter { $0.group == "baseline" }.map(\.id)
        #expect(baselineIDs.count == 3)
        let control = try #require(lines.first { $0.hasPrefix("Control") })
        // b1 controls 0.998, 1.000, 1.002 with ±2 %: all read 1.00 [0.98, 1.02].
        #expect(control.contains("b1 " + baselineIDs.map { "#\($0) 1.00× [0.98, 1.02]" }.joined(separator: ", ")), "\(control)")
        #expect(control.contains("; b256 #\(baselineIDs[0]) 1.00× [0.98, 1.02]"), "\(control)")
        // Noise: the median of 0.011, 0.012, 0.013 (by seed) and 0.008.
        #expect(lines.contains("Noise (median over trials of a median's 95% CI half-width): b1 ±1.2 %, b256 ±0.8 %."), "\(lines)")
        #expect(!lines.contains { $0.hasPrefix("Warning") })
        #expect(HTMLReport.render(model).contains("Control (baseline vs itself, must read 1.00 within its interval): b1 #"))
        #expect(MarkdownReport.render(model).contains("Control (baseline vs itself, must read 1.00 within its interval): b1 #"))
    }

    /// A speedup whose interval excludes 1.00 but which is closer to 1.00 than a median is known
    /// to is still within noise; one beyond the noise is not.
    @Test func aSpeedupSmallerThanTheNoiseIsWithinNoise() {
        let tiny = SpeedupFigure(estimate: 1.003, lower: 1.001, upper: 1.005, interval: .rounds, n: 1, noise: 0.008)
        #expect(tiny.withinNoise)
        var precise = tiny
        precise.noise = 0.001
        #expect(!precise.withinNoise, "0.3 % measured to ±0.1 % is beyond the noise")
        let noInterval = SpeedupFigure(estimate: 1.0, lower: nil, upper: nil, interval: nil, n: 1, noise: 0.05)
        #expect(!noInterval.withinNoise)
    }

    @Test func aControlThatMissesOneIsAWarning() throws {
        let sweep = try MiniSweep.make([
            .init(group: "baseline", method: "fp32", seed: 1, metrics: [
                "accuracy": 0.9, "latency_b1_ms": 0.2, "speedup_b1": 1.07, "speedup_b1_lower": 1.04, "speedup_b1_upper": 1.10]),
            .init(group: "q", method: "int8", seed: 1, metrics: [
                "accuracy": 0.89, "latency_b1_ms": 0.1, "speedup_b1": 2, "speedup_b1_lower": 1.9, "speedup_b1_upper": 2.1]),
        ])
        defer { sweep.remove() }
        let warning = try #require(LatencySummary.lines(sweep.model).first { $0.hasPrefix("Warning") })
        #expect(warning.contains("b1 #1"))
        #expect(HTMLReport.render(sweep.model).contains("class=\"meta latency warning\""))
    }

    /// A database from before the latency phase: in-trial latency, no noise or intervals.
    @Test func inTrialLatencyIsNotPassedOffAsThePhase() throws {
        let sweep = try MiniSweep.make([
            .init(group: "baseline", method: "fp32", seed: 1, metrics: ["accuracy": 0.9, "latency_b1_ms": 0.2, "speedup_b256": 0.85]),
            .init(group: "q", method: "int8", seed: 1, metrics: ["accuracy": 0.89, "latency_b1_ms": 0.1, "speedup_b256": 1.9]),
        ])
        defer { sweep.remove() }
        #expect(LatencySummary.lines(sweep.model) == [
            "Latency: measured inside each trial while other trials ran (a sweep from before the latency phase): "
                + "no intervals and no control, so speedups cannot be told from noise.",
        ])
    }

    /// `lathe sweep --no-latency`: no latency metric at all.
    @Test func noLatencySweepSaysSoInsteadOfEmptyColumns() throws {
        let sweep = try MiniSweep.make([1, 2].flatMap { seed -> [MiniSweep.Trial] in [
            .init(group: "baseline", method: "fp32", seed: seed, metrics: ["accuracy": 0.9, "size_bytes": 4000, "flip_rate": 0, "kl_to_baseline": 0]),
            .init(group: "q", method: "int8", seed: seed, metrics: [
                "accuracy": 0.88 + 0.01 * Double(seed), "size_bytes": 1000, "flip_rate": 0.02, "kl_to_baseline": 0.01]),
        ] })
        defer { sweep.remove() }
        #expect(!sweep.model.hasLatency)
        let html = HTMLReport.render(sweep.model)
        #expect(html.contains("latency not measured (the sweep ran with --no-latency, or its latency phase failed"))
        #expect(!html.contains("chart-latency") && !html.contains("Latency b1") && !html.contains("Speedup"))
        #expect(svgElements(html).count == 2, "the size and the flip chart")
        let md = MarkdownReport.render(sweep.model)
        #expect(md.contains("Latency: latency not measured (the sweep ran with --no-latency, or its latency phase failed"))
        #expect(md.contains("- accuracy vs latency at batch 1: latency not measured (the sweep ran with --no-latency, or its latency phase failed"))
        #expect(!md.contains("Latency b1") && !md.contains("Speedup") && !md.contains("nan"))
        let (header, _) = CSV.records(CSVReport.aggregates(sweep.model))
        #expect(!header.contains { $0.contains("speedup") || $0.contains("latency") }, "\(header)")
    }
}

/// The accuracy-vs-flip-rate chart and chart labels.
@Suite("flip chart and labels")
struct FlipChartTests {
    @Test func oneBoundedPointPerConfigurationWithoutAFront() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let svg = try #require(svgElements(HTMLReport.render(model)).first { $0.contains("id=\"chart-flips\"") })
        #expect(occurrences(of: "<circle", in: svg) == model.aggregates.count)
        #expect(!svg.contains("pareto-front") && !svg.contains("Pareto front"))
        let x = try ChartBoundsTests.ticks(svg, "x-tick"), y = try ChartBoundsTests.ticks(svg, "y-tick")
        #expect(x.count >= 2 && x.allSatisfy { $0 >= 0 && $0 <= 100 }, "x ticks \(x)")
        #expect(y.count >= 2 && y.allSatisfy { $0 >= 0 && $0 <= 100 }, "y ticks \(y)")
        // The int8 point: mean flips 1.65 % and accuracy 91.00 % in its tooltip.
        #expect(svg.contains("uniform int8 (quant): accuracy 91.00 ± 2.48 %, flips 1.65 ± 1.22 %"))
    }

    /// Two seeds with huge intervals: the flip chart clips them at 0 % like the others.
    @Test func hugeFlipIntervalsAreClippedAtTheAxis() throws {
        let sweep = try MiniSweep.make([
            .init(group: "baseline", method: "fp32", seed: 1, metrics: ["accuracy": 0.9, "flip_rate": 0]),
            .init(group: "baseline", method: "fp32", seed: 2, metrics: ["accuracy": 0.9, "flip_rate": 0]),
            .init(group: "a-group-with-a-very-long-name", method: "m", seed: 1, metrics: ["accuracy": 0.5, "flip_rate": 0.01]),
            .init(group: "a-group-with-a-very-long-name", method: "m", seed: 2, metrics: ["accuracy": 0.9, "flip_rate": 0.6]),
        ])
        defer { sweep.remove() }
        let svg = ReportCharts.flipChart(sweep.model, id: "f").render()
        #expect(svg.contains("class=\"clipped\""))
        #expect(try ChartBoundsTests.ticks(svg, "x-tick").allSatisfy { $0 >= 0 && $0 <= 100 })
        // A long group name is shortened in the legend with the full name on hover.
        #expect(svg.contains("<title>a-group-with-a-very-long-name</title>a-group-w…-long-name</text>"), "\(svg)")
    }
}

/// Teacher rows in distillation groups.
@Suite("teacher rows")
struct TeacherRowTests {
    static func teacherMetrics(_ seed: Int64, latency: Double) -> [String: Double] {
        ["teacher_accuracy": 0.93, "teacher_size_bytes": 1_200_000, "teacher_latency_b1_ms": latency + 0.01 * Double(seed),
         "teacher_latency_b256_ms": 40]
    }

    @Test func oneRowPerDistinctTeacherAfterItsGroups() throws {
        let convnet = ["teacher": "convnet (width 1.0)", "teacher_checkpoint": "/cache/teachers/convnet-aaa.safetensors"]
        let wide = ["teacher": "convnet (width 2.0)", "teacher_checkpoint": "/cache/teachers/convnet-bbb.safetensors"]
        let sweep = try MiniSweep.make([1, 2].flatMap { seed -> [MiniSweep.Trial] in [
            .init(group: "baseline", method: "fp32", seed: seed, metrics: ["accuracy": 0.9, "size_bytes": 240_000, "latency_b1_ms": 0.2]),
            .init(group: "student-alone", method: "lenet5 x0.5", seed: seed,
                  metrics: ["accuracy": 0.85, "size_bytes": 60_000, "latency_b1_ms": 0.1].merging(Self.teacherMetrics(seed, latency: 0.5)) { a, _ in a },
                  provenance: convnet),
            .init(group: "kd", method: "hinton", seed: seed,
                  metrics: ["accuracy": 0.87, "size_bytes": 60_000, "latency_b1_ms": 0.1].merging(Self.teacherMetrics(seed, latency: 0.5)) { a, _ in a },
                  provenance: convnet),
            .init(group: "kd-wide", method: "hinton", seed: seed,
                  metrics: ["accuracy": 0.88, "size_bytes": 60_000, "latency_b1_ms": 0.1, "teacher_accuracy": 0.95,
                            "teacher_size_bytes": 4_800_000],
                  provenance: wide),
        ] })
        defer { sweep.remove() }
        let model = sweep.model
        #expect(model.teachers.map(\.name) == ["convnet (width 1.0)", "convnet (width 2.0)"])
        let first = try #require(model.teachers.first)
        #expect(first.groups == ["student-alone", "kd"])
        #expect(first.aggregate.trialIDs == [2, 3, 6, 7])
        #expect(first.aggregate["accuracy"]?.mean == 0.93 && first.aggregate["size_bytes"]?.mean == 1_200_000)
        #expect(abs((first.aggregate["latency_b1_ms"]?.mean ?? 0) - 0.515) < 1e-12)
        // No latency recorded for the second teacher: its latency cells stay empty ("–").
        #expect(model.teachers[1].aggregate["latency_b1_ms"] == nil)

        let rows = MethodRows.rows(model).map { ($0.aggregate.method, $0.isTeacher) }
        #expect(rows.map(\.0) == ["fp32", "lenet5 x0.5", "hinton", "teacher: convnet (width 1.0)", "hinton", "teacher: convnet (width 2.0)"])
        #expect(rows.map(\.1) == [false, false, false, true, false, true])
        let md = MarkdownReport.render(model)
        #expect(md.contains("| ↳ teacher: convnet (width 1.0) | student-alone, kd | 4 | – | – | – | – | 93.00 | – | 1.14 MiB | – | "),
                "\(md)")
        let html = HTMLReport.render(model)
        #expect(occurrences(of: "<tr class=\"teacher\">", in: html) == 2)
        #expect(html.contains("↳ teacher: convnet (width 2.0)"))
    }
}
