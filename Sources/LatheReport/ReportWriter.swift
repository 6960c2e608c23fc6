import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a report's files into a folder, all or nothing.
public enum ReportWriter {
    /// The files of a report, in the order they are written.
    public static let fileNames = ["report.html", "report.md", "trials.csv", "aggregates.csv", "report.json"]

    /// Renders every file of `model` in memory.
    public static func render(_ model: ReportModel) throws -> [(name: String, data: Data)] {
        [
            ("report.html", Data(HTMLReport.render(model).utf8)),
            ("report.md", Data(MarkdownReport.render(model).utf8)),
            ("trials.csv", Data(CSVReport.trials(model).utf8)),
            ("aggregates.csv", Data(CSVReport.aggregates(model).utf8)),
            ("report.json", try JSONReport.render(model)),
        ]
    }

    /// Writes `report.html`, `report.md`, `trials.csv`, `aggregates.csv` and `report.json` into
    /// `directory` and returns the path of `report.html`.
    ///
    /// Everything is rendered first and written into a hidden temporary folder beside
    /// `directory`; then a new `directory` is that folder renamed, or, when `directory` already
    /// exists, each file is renamed into it (replacing the old one atomically). A failure
    /// leaves no partial file behind.
    @discardableResult
    public static func write(_ model: ReportModel, to directory: String) throws -> String {
        let files = try render(model)
        let fm = FileManager.default
        let target = URL(fileURLWithPath: directory).standardizedFileURL
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: target.path, isDirectory: &isDirectory)
        if exists, !isDirectory.boolValue { throw ReportError("output \(directory) exists and is not a folder") }
        let parent = target.deletingLastPathComponent()
        do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw ReportError("cannot create \(parent.path): \(error.localizedDescription)")
        }
        let temp = parent.appendingPathComponent(".\(target.lastPathComponent).tmp-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: temp, withIntermediateDirectories: false)
            for f in files { try f.data.write(to: temp.appendingPathComponent(f.name)) }
        } catch {
            try? fm.removeItem(at: temp)
            throw ReportError("cannot write the report into \(parent.path): \(error.localizedDescription)")
        }
        defer { try? fm.removeItem(at: temp) }
        if exists {
            for f in files {
                guard rename(temp.appendingPathComponent(f.name).path, target.appendingPathComponent(f.name).path) == 0 else {
                    throw ReportError("cannot move \(f.name) into \(directory): \(String(cString: strerror(errno)))")
                }
            }
        } else {
            guard rename(temp.path, target.path) == 0 else {
                throw ReportError("cannot create \(directory): \(String(cString: strerror(errno)))")
            }
        }
        return target.appendingPathComponent("report.html").path
    }
}
