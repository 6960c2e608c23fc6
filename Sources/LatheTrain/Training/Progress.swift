import Foundation

/// Where training progress goes: a redrawn bar on a terminal, plain lines otherwise
/// (log files, CI, pipes).
///
/// Threading: used from the training thread only.
public final class ProgressReporter: @unchecked Sendable {
    /// Output style.
    public enum Style: Sendable { case bar, lines, silent }

    public let style: Style
    private let handle: FileHandle
    private var lastDraw = Date.distantPast

    /// A reporter writing to standard error; `.bar` when it is a terminal.
    public init(style: Style? = nil, handle: FileHandle = .standardError) {
        self.handle = handle
        self.style = style ?? (isatty(handle.fileDescriptor) == 1 ? .bar : .lines)
    }

    /// Called after each step; redraws the bar at most 10 times a second.
    public func step(epoch: Int, epochs: Int, step: Int, steps: Int, loss: Double, imagesPerSecond: Double, eta: TimeInterval) {
        guard style == .bar else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 || step == steps else { return }
        lastDraw = now
        let width = 24
        let filled = steps > 0 ? width * step / steps : width
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "\r\u{1B}[2Kepoch %d/%d [%@] %3d%% loss %.4f %6.0f img/s ETA %@",
                          epoch, epochs, bar, steps > 0 ? 100 * step / steps : 100, loss, imagesPerSecond, Self.clock(eta))
        write(line)
    }

    /// Called at the end of each epoch with a one-line summary.
    public func epochFinished(_ summary: String) {
        switch style {
        case .bar: write("\r\u{1B}[2K" + summary + "\n")
        case .lines: write(summary + "\n")
        case .silent: break
        }
    }

    /// A free-form line.
    public func note(_ text: String) {
        if style != .silent { write(text + "\n") }
    }

    private func write(_ text: String) {
        handle.write(Data(text.utf8))
    }

    /// `m:ss` or `h:mm:ss`.
    static func clock(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.isFinite ? Swift.max(0, seconds) : 0)
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
