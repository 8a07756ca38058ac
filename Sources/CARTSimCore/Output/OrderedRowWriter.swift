import Foundation

/// Streams CSV rows produced by several threads into one file in index order: workers take
/// blocks of indices with ``nextBlock(end:size:)`` and hand in each finished row with
/// ``deliver(_:_:_:)``; rows are written (and `onRow` folds each row's payload into `state`,
/// under the lock, in index order) as soon as all earlier ones are in, so memory stays flat and
/// the file is the same for any thread count. The file is written as `PATH.partial` and appears
/// under its name only when ``commit()`` succeeds.
final class OrderedRowWriter<Payload, State>: @unchecked Sendable {
  private let lock = NSLock()
  private let handle: FileHandle
  private let path: String
  private var next: Int
  private var issued: Int
  private var delivered = 0
  private var pending: [Int: (String, Payload)] = [:]
  private var buffer = ""
  private var state: State
  private let onRow: (inout State, Payload) -> Void
  private var writeError: (any Error)?

  /// - Parameters:
  ///   - path: the final file; rows go to `path + ".partial"` until ``commit()``.
  ///   - first: the index of the first row (a shard starts inside the range).
  init(path: String, header: String, first: Int = 0, state: State, onRow: @escaping (inout State, Payload) -> Void) throws {
    let partial = path + ".partial"
    guard FileManager.default.createFile(atPath: partial, contents: Data((header + "\n").utf8)),
          let h = FileHandle(forWritingAtPath: partial) else {
      throw InputError(file: partial, path: "", message: "cannot create the file")
    }
    h.seekToEndOfFile()
    handle = h
    self.path = path
    next = first
    issued = first
    self.state = state
    self.onRow = onRow
  }

  func nextBlock(end: Int, size: Int) -> Range<Int>? {
    lock.lock(); defer { lock.unlock() }
    guard issued < end else { return nil }
    let r = issued..<min(end, issued + size)
    issued = r.upperBound
    return r
  }

  /// Hands in row `i`; returns how many rows have been handed in so far.
  @discardableResult
  func deliver(_ i: Int, _ row: String, _ payload: Payload) -> Int {
    lock.lock(); defer { lock.unlock() }
    delivered += 1
    pending[i] = (row, payload)
    while let (row, payload) = pending.removeValue(forKey: next) {
      buffer += row
      buffer += "\n"
      onRow(&state, payload)
      next += 1
    }
    if buffer.utf8.count > 1 << 16 { flush() }
    return delivered
  }

  private func flush() {
    guard !buffer.isEmpty, writeError == nil else { return }
    do { try handle.write(contentsOf: Data(buffer.utf8)) } catch { writeError = error }
    buffer = ""
  }

  /// Writes what is left, renames the file to its final name and returns the folded state.
  func commit() throws -> State {
    lock.lock(); defer { lock.unlock() }
    precondition(pending.isEmpty, "every row is written in order")
    flush()
    try? handle.close()
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
    lock.lock(); defer { lock.unlock() }
    try? handle.close()
    try? FileManager.default.removeItem(atPath: path + ".partial")
  }
}
