import Testing
@testable import LatheReport

/// The calibration-sample variance beside the training-seed variance, from trials whose grid
/// varies `calibration_seed`.
@Suite("calibration-sample variance")
struct CalibrationVarianceTests {
    static func trial(_ id: Int64, group: String, label: String, seed: Int64, accuracy: Double) -> ReportModel.Trial {
        ReportModel.Trial(id: id, key: "\(id)", group: group, method: label, seed: seed, status: "done", error: nil, attempts: 1,
                          seconds: 1, metrics: ["accuracy": accuracy])
    }

    @Test func labelsLoseOnlyTheirCalibrationSeed() {
        #expect(CalibrationVariance.split("gptq: calibration_seed=5, bits=3")! == ("gptq: bits=3", "5"))
        #expect(CalibrationVariance.split("gptq: bits=3, calibration_seed=12")! == ("gptq: bits=3", "12"))
        #expect(CalibrationVariance.split("gptq: calibration_seed=5")! == ("gptq", "5"))
        #expect(CalibrationVariance.split("gptq: bits=3") == nil && CalibrationVariance.split("gptq") == nil)
    }

    @Test func bothStandardDeviationsAreThoseOfTheirAxis() throws {
        var trials: [ReportModel.Trial] = []
        var id: Int64 = 0
        // accuracy = 0.80 + 0.01·training seed + 0.002·calibration index: SD 1 point across training seeds,
        // 0.2 points across calibration samples.
        for seed in Int64(0)..<3 {
            for (c, calibration) in [100, 101, 102].enumerated() {
                id += 1
                trials.append(Self.trial(id, group: "gptq", label: "gptq: calibration_seed=\(calibration), bits=3", seed: seed,
                                         accuracy: 0.80 + 0.01 * Double(seed) + 0.002 * Double(c)))
            }
            id += 1
            // One calibration seed only: no row.
            trials.append(Self.trial(id, group: "rtn", label: "rtn: calibration_seed=100", seed: seed, accuracy: 0.7))
            id += 1
            trials.append(Self.trial(id, group: "baseline", label: "baseline (fp32)", seed: seed, accuracy: 0.9))
        }
        let rows = CalibrationVariance.rows(trials)
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.group == "gptq" && row.configuration == "gptq: bits=3" && row.trainingSeeds == 3 && row.calibrationSeeds == 3)
        #expect(abs(row.trainingSD - 0.01) < 1e-12 && abs(row.calibrationSD - 0.002) < 1e-12)
        #expect(abs(row.mean - 0.812) < 1e-12)
        #expect(CalibrationVariance.markdown(rows).contains("| gptq | gptq: bits=3 | 3 | 3 | 81.20 | 0.200 | 1.000 |"))
    }
}
