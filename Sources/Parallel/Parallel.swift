import Dispatch
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Work spread over threads with results that do not depend on the thread count: every shared
/// mutable value lives in a ``Shared`` (a `Mutex`) or an `Atomic` (Swift's Synchronization),
/// never in a bare variable two threads can reach.
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
  private let state: Shared<(values: [T?], done: Int)>

  init(_ count: Int) { state = Shared((Array(repeating: nil, count: count), 0)) }

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

/// A mutable value shared by reference between threads, behind a lock: the one lock wrapper
/// of the package. It is Synchronization's `Mutex`, except in the ThreadSanitizer build
/// (`-DTSAN_VISIBLE_LOCKS`, Scripts/tsan.sh): there a pthread mutex, because `Mutex` waits on a
/// futex inside the uninstrumented standard library when contended, so TSan cannot see its
/// happens-before edge and reports the guarded accesses as races.
#if TSAN_VISIBLE_LOCKS
  public final class Shared<Value: Sendable>: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
      self.value = value
      lock = .allocate(capacity: 1)
      pthread_mutex_init(lock, nil)
    }

    deinit {
      pthread_mutex_destroy(lock)
      lock.deallocate()
    }

    /// Runs `body` with the value, under the lock.
    public func withLock<R: Sendable>(_ body: (inout Value) throws -> R) rethrows -> R {
      pthread_mutex_lock(lock)
      defer { pthread_mutex_unlock(lock) }
      return try body(&value)
    }
  }
#else
  public final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with the value, under the lock.
    public func withLock<R: Sendable>(_ body: (inout Value) throws -> R) rethrows -> R { try mutex.withLock { try body(&$0) } }
  }
#endif
