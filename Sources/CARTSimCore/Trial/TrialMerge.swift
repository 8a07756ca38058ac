import Foundation

/// Combines shard outputs (patients.csv + aggregate.json) into one run directory whose files
/// are identical to those of an unsharded run: rows are concatenated in patient order and
/// the aggregates (integer histograms, sample assessments) added.
public enum TrialMerge {
  public static func merge(_ dirs: [String], to out: String) throws {
    guard !dirs.isEmpty else { throw InputError(file: out, path: "", message: "no shard directories given") }
    // The output folder's old results are removed first: it must not be one of the shards.
    func real(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path }
    if let d = dirs.first(where: { real($0) == real(out) }) {
      throw InputError(file: out, path: "", message: "is also a shard (\(d)); merge into another folder")
    }
    var shards: [(dir: String, aggregate: TrialAggregate)] = []
    for d in dirs {
      shards.append((d, try TrialAggregate.load(path: (d as NSString).appendingPathComponent("aggregate.json"))))
    }
    shards.sort { ($0.aggregate.ranges.map(\.lowerBound).min() ?? 0) < ($1.aggregate.ranges.map(\.lowerBound).min() ?? 0) }
    var merged = shards[0].aggregate
    for s in shards.dropFirst() {
      do { try merged.merge(s.aggregate) } catch {
        throw InputError(file: s.dir, path: "aggregate.json", message: "is a shard of another trial than \(shards[0].dir) (name, seed, arms or definitions differ)")
      }
    }
    // The ranges must tile 0..<total exactly once.
    let total = merged.arms.reduce(0) { $0 + $1.patients }
    var expected = 0
    for r in merged.ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
      guard r.lowerBound == expected else {
        let what = r.lowerBound < expected ? "overlap (patients \(r.lowerBound)..<\(expected) twice)" : "leave out patients \(expected)..<\(r.lowerBound)"
        throw InputError(file: out, path: "", message: "the shards \(what)")
      }
      expected = r.upperBound
    }
    guard expected == total else { throw InputError(file: out, path: "", message: "the shards leave out patients \(expected)..<\(total)") }
    merged.ranges = [0..<total]
    // Every shard whole before anything is written.
    for s in shards { try checkRows(dir: s.dir, patients: s.aggregate.ranges.reduce(0) { $0 + $1.count }) }

    let fm = FileManager.default
    do { try fm.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
      throw InputError(file: out, path: "", message: "cannot create the output directory (\(error.localizedDescription))")
    }
    TrialRunner.removeEarlierResults(in: out)
    let path = (out as NSString).appendingPathComponent("patients.csv")
    guard fm.createFile(atPath: path + ".partial", contents: nil), let h = FileHandle(forWritingAtPath: path + ".partial") else {
      throw InputError(file: path, path: "", message: "cannot create the file")
    }
    var header: String? = nil
    for s in shards {
      let src = (s.dir as NSString).appendingPathComponent("patients.csv")
      guard let r = FileHandle(forReadingAtPath: src) else { throw InputError(file: src, path: "", message: "cannot read the file") }
      defer { try? r.close() }
      // Copy in chunks, checking that the headers agree and dropping all but the first.
      var first = true
      while true {
        var chunk = r.readData(ofLength: 1 << 20)
        if chunk.isEmpty { break }
        if first {
          first = false
          guard let nl = chunk.firstIndex(of: 0x0A) else { throw InputError(file: src, path: "", message: "has no header line") }
          let head = String(decoding: chunk[chunk.startIndex..<nl], as: UTF8.self)
          if let header, header != head { throw InputError(file: src, path: "header", message: "differs from the first shard's") }
          if header == nil { header = head } else { chunk = Data(chunk[(nl + 1)...]) }
        }
        try h.write(contentsOf: chunk)
      }
    }
    try h.close()
    if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
    try fm.moveItem(atPath: path + ".partial", toPath: path)
    try ResultWriter.atomicWrite(merged.json.render() + "\n", to: (out as NSString).appendingPathComponent("aggregate.json"))
  }

  /// Refuses a shard whose `patients.csv` is not a header and one whole line per patient of
  /// its `aggregate.json` (a shard cut short, or one still being written).
  static func checkRows(dir: String, patients: Int) throws {
    let path = (dir as NSString).appendingPathComponent("patients.csv")
    guard let h = FileHandle(forReadingAtPath: path) else { throw InputError(file: path, path: "", message: "cannot read the file") }
    defer { try? h.close() }
    var lines = 0, last: UInt8 = 0x0A
    while true {
      let chunk = h.readData(ofLength: 1 << 20)
      guard let end = chunk.last else { break }
      lines += chunk.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
      last = end
    }
    guard last == 0x0A else {
      throw InputError(file: path, path: "", message: "ends inside a row (the shard is truncated or still running)")
    }
    guard lines == patients + 1 else {
      throw InputError(file: path, path: "", message: "has \(max(lines - 1, 0)) patient rows; its aggregate.json counts \(patients) (the shard is truncated or from another run)")
    }
  }
}
