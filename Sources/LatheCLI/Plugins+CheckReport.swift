import Foundation
import LathePlugins

extension Plugins {
    /// The output of `plugins check`: a text report, or JSON lines only (one object per record,
    /// then a summary), counted the same way either way.
    struct CheckReport {
        /// The last line of `--json`: the counts the text's result line gives.
        struct Summary: Codable, Equatable {
            var subject: String
            var check = "result"
            var status: CheckResult.Status
            var detail: String
            var passed: Int
            var failed: Int
            var warnings: Int
            var skipped: Int
        }

        let json: Bool
        private(set) var passed = 0, failed = 0, warnings = 0, skipped = 0

        init(json: Bool) { self.json = json }

        /// A line for people (nothing in JSON mode).
        func heading(_ text: String) {
            if !json { print(text) }
        }

        mutating func add(_ record: CheckResult, indent: Int) {
            let label: String
            switch record.status {
            case .pass: label = "pass"; passed += 1
            case .fail: label = "FAIL"; failed += 1
            case .warn: label = "warn"; warnings += 1
            case .skip: label = "skip"; skipped += 1
            case .begin: return
            }
            if json {
                Self.printJSON(record)
            } else {
                print("\(String(repeating: " ", count: indent))\(label)  \(record.check)\(record.detail.isEmpty ? "" : ": \(record.detail)")")
            }
        }

        func finish(subject: String, note: String) {
            let counts = "\(passed) passed, \(failed) failed" + (warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : "")
            if json {
                Self.printJSON(Summary(subject: subject, status: failed == 0 ? .pass : .fail, detail: counts + note,
                                       passed: passed, failed: failed, warnings: warnings, skipped: skipped))
            } else {
                print("result: \(failed == 0 ? "PASS" : "FAIL") (\(counts))\(note)")
            }
        }

        private static func printJSON<T: Encodable>(_ value: T) {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
        }
    }
}
