import Foundation

/// The process's peak resident memory (Linux `VmHWM`), for tests that bound what a piece of
/// work may allocate.
public enum PeakMemory {
    /// How far `work` raised the peak resident set, in bytes. The peak is first reset to the
    /// current resident set (`/proc/self/clear_refs`), so earlier work does not hide growth;
    /// other tests running at the same time can only add to the figure, so bounds should be
    /// generous against normal use and far below what the bug under test would allocate.
    public static func growth<T>(during work: () throws -> T) throws -> (result: T, bytes: Int) {
        try Data("5".utf8).write(to: URL(fileURLWithPath: "/proc/self/clear_refs"))
        let before = try highWaterMark()
        let result = try work()
        return (result, try highWaterMark() - before)
    }

    /// `VmHWM` of this process, in bytes.
    public static func highWaterMark() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: "/proc/self/status"]) }
        return kilobytes * 1024
    }
}
