import Dispatch
import Synchronization

/// Work spread over threads with results that do not depend on the thread count: every shared
/// mutable value lives in a `Mutex` or an `Atomic` (Swift's Synchronization), never in a bare
/// variable two threads can reach.
public enum Parallel {
  /// Runs `body(i)` for every `i` in `0..<count` on up to `threads` threads, which take the
  /// indices in order, and returns the results in index order. `progress(done, result)` is
  /// called after each result is stored (from the thread that computed it; `done` counts the
  /// results stored so far).
  public static func map<T: Sendable>(
    _ count: Int, threads: Int, progress: (@Sendable (Int, T) -> Void)? = nil,
    _ body: @Sendable (Int) -> T
  ) -> [T] {
    precondition(count >= 0 && threads >= 1, "Parallel.map: count \(count), threads \(threads)")
    let slots = Slots<T>(count)
    let next = IndexQueue()
    DispatchQueue.concurrentPerform(iterations: min(threads, max(count, 1))) { _ in
      while let i = next.take(below: count) {
        let value = body(i)
        let done = slots.store(i, value)
        progress?(done, value)
      }
    }
    return slots.values()
  }
}

/// Hands out 0, 1, 2, … to whichever thread asks next.
final class IndexQueue: Sendable {
  private let next = Atomic<Int>(0)

  /// The next index, or `nil` once `end` is reached.
  func take(below end: Int) -> Int? {
    let i = next.add(1, ordering: .relaxed).oldValue
    return i < end ? i : nil
  }
}

/// One result per index, each stored once by some thread.
final class Slots<T: Sendable>: Sendable {
  private let state: Mutex<(values: [T?], done: Int)>

  init(_ count: Int) { state = Mutex((Array(repeating: nil, count: count), 0)) }

  /// Stores result `i`; returns how many are stored.
  func store(_ i: Int, _ value: T) -> Int {
    state.withLock { s in
      precondition(s.values[i] == nil, "result \(i) stored twice")
      s.values[i] = value
      s.done += 1
      return s.done
    }
  }

  func values() -> [T] {
    state.withLock { s in
      s.values.map { v in
        guard let v else { preconditionFailure("a result was never stored") }
        return v
      }
    }
  }
}

/// A mutable value shared by reference between threads, behind a `Mutex`: the one lock wrapper
/// of the package.
public final class Shared<Value: Sendable>: Sendable {
  private let mutex: Mutex<Value>

  public init(_ value: Value) { mutex = Mutex(value) }

  /// Runs `body` with the value, under the lock.
  public func withLock<R: Sendable>(_ body: (inout Value) throws -> R) rethrows -> R { try mutex.withLock { try body(&$0) } }
}
