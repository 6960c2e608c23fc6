import Foundation

/// What /proc says about processes: which are alive, whose children they are, what they run.
/// A zombie counts as gone (it runs nothing; reaping it is its new parent's business).
public enum ProcessTable {
    /// The state letter and parent pid of `pid`, from /proc/PID/stat, or nil if it is gone.
    static func stat(_ pid: pid_t) -> (state: Character, parent: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // "PID (COMM) STATE PPID …": COMM may hold spaces and parentheses, so parse after the last ")".
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 1, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, parent)
    }

    /// Whether `pid` is a live process (present and not a zombie).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard let s = stat(pid) else { return false }
        return s.state != "Z" && s.state != "X"
    }

    /// Every live process.
    static func all() -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { pid_t($0) }.filter(isAlive)
    }

    /// Live processes whose command line (arguments joined by spaces) contains `text`.
    public static func processes(commandLineContaining text: String) -> [pid_t] {
        all().filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return line.contains(text)
        }
    }

    /// Live children of `parent`.
    public static func children(of parent: pid_t) -> [pid_t] {
        all().filter { stat($0)?.parent == parent }
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` have passed; returns whether it held.
    public static func wait(seconds: Double, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
