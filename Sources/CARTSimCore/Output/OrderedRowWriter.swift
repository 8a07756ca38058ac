import Foundation
import Parallel

/// Streams CSV rows produced by several threads into one file in index order: workers take
/// blocks of indices with ``nextBlock(end:size:)`` and hand in each finished row with
/// ``deliver(_:_:_:)``; rows are written (and `onRow` folds each row's payload into `state`,
/// under the lock, in index order) as soon as all earlier ones are in, so memory stays flat and
/// the file is the same for any thread count. The file is written as `PATH.partial` and appears
/// under its name only when ``commit()`` succeeds.
final class OrderedRowWriter<Payload: Sendable, State: Sendable>: Sendable {
  /// Everything the workers change, behind one lock.
  private struct Inner: Sendable {
    let handle: FileHandle
    var next: Int
    var issued: Int
    var delivered = 0
    var pending: [Int: (String, Payload)] = [:]
    var buffer = ""
    var state: State
    let onRow: @Sendable (inout State, Payload) -> Void
    var writeError: (any Error & Sendable)?

    mutating func flush() {
      guard !buffer.isEmpty, writeError == nil else { return }
      do { try handle.write(contentsOf: Data(buffer.utf8)) } catch { writeError = error }
      buffer = ""
    }
  }

  private let inner: Shared<Inner>
  private let path: String

  /// - Parameters:
  ///   - path: the final file; rows go to `path + ".partial"` until ``commit()``.
  ///   - first: the index of the first row (a shard starts inside the range).
  init(path: String, header: String, first: Int = 0, state: State, onRow: @escaping @Sendable (inout State, Payload) -> Void) throws {
    let partial = path + ".partial"
    guard FileManager.default.createFile(atPath: partial, contents: Data((header + "\n").utf8)),
      let h = FileHandle(forWritingAtPath: partial)
    else {
      throw InputError(file: partial, path: "", message: "cannot create the file")
    }
    h.seekToEndOfFile()
    self.path = path
    inner = Shared(Inner(handle: h, next: first, issued: first, state: state, onRow: onRow))
  }

  func nextBlock(end: Int, size: Int) -> Range<Int>? {
    inner.withLock { w in
      guard w.issued < end else { return nil }
      let r = w.issued..<min(end, w.issued + size)
      w.issued = r.upperBound
      return r
    }
  }

  /// Hands in row `i`; returns how many rows have been handed in so far.
  @discardableResult
  func deliver(_ i: Int, _ row: String, _ payload: Payload) -> Int {
    inner.withLock { w in
      w.delivered += 1
      w.pending[i] = (row, payload)
      while let (row, payload) = w.pending.removeValue(forKey: w.next) {
        w.buffer += row
        w.buffer += "\n"
        w.onRow(&w.state, payload)
        w.next += 1
      }
      if w.buffer.utf8.count > 1 << 16 { w.flush() }
      return w.delivered
    }
  }

  /// Writes what is left, renames the file to its final name and returns the folded state.
  func commit() throws -> State {
    let (state, writeError) = inner.withLock { w in
      precondition(w.pending.isEmpty, "every row is written in order")
      w.flush()
      try? w.handle.close()
      return (w.state, w.writeError)
    }
    if let writeError { throw InputError(file: path, path: "", message: "cannot write (\(writeError.localizedDescription))") }
    let fm = FileManager.default
    do {
      if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
      try fm.moveItem(atPath: path + ".partial", toPath: path)
    } catch {
      throw InputError(file: path, path: "", message: "cannot write (\(error.localizedDescription))")
    }
    return state
  }

  /// Closes and removes the partial file (a cancelled run): nothing complete-looking remains.
  func abandon() {
    inner.withLock { w in try? w.handle.close() }
    try? FileManager.default.removeItem(atPath: path + ".partial")
  }
}
