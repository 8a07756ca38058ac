import Foundation

/// A progress bar on standard error, redrawn at most five times a second, for counts reported
/// from worker threads: `██████········ 120/400 patients  85/s  ETA 3s`.
public final class ProgressBar: Sendable {
  private struct State: Sendable {
    var done = 0, total: Int
    var last = Date.distantPast
  }

  private let state: Shared<State>
  private let unit: String
  private let enabled: Bool
  private let start = Date()

  /// A disabled bar draws nothing (`--quiet`, or standard error is not a terminal). `total` may
  /// be given later, with ``update(_:of:)``.
  public init(total: Int = 0, unit: String, enabled: Bool) {
    state = Shared(State(total: total))
    self.unit = unit
    self.enabled = enabled
  }

  /// One more done.
  public func tick() { advance { $0.done += 1 } }

  /// `done` of `total` are done (counts reported out of order are fine: the largest wins).
  public func update(_ done: Int, of total: Int) {
    advance {
      $0.done = max($0.done, done)
      $0.total = total
    }
  }

  /// Ends the line.
  public func finish() {
    guard enabled else { return }
    FileHandle.standardError.write(Data("\n".utf8))
  }

  private func advance(_ change: (inout State) -> Void) {
    guard enabled else { return }
    state.withLock { s in
      change(&s)
      let total = s.total
      let now = Date()
      guard now.timeIntervalSince(s.last) >= 0.2 || s.done == total else { return }
      s.last = now
      let width = 30
      let fraction = total > 0 ? min(1, Double(s.done) / Double(total)) : 1
      let filled = Int(fraction * Double(width))
      let elapsed = now.timeIntervalSince(start)
      let rate = elapsed > 0 ? Double(s.done) / elapsed : 0
      let eta = rate > 0 ? Double(total - s.done) / rate : 0
      let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
      let line = String(format: "\r%@ %d/%d %@  %.0f/s  ETA %.0fs ", bar, s.done, total, unit, rate, eta)
      FileHandle.standardError.write(Data(line.utf8))
    }
  }
}
