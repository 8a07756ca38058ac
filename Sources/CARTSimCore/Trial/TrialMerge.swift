import CSVKit
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
        throw InputError(
          file: s.dir, path: "aggregate.json",
          message: "is a shard of another trial than \(shards[0].dir) (name, seed, arms or definitions differ)")
      }
    }
    // The ranges must tile 0..<total exactly once.
    let total = merged.arms.reduce(0) { $0 + $1.patients }
    var expected = 0
    for r in merged.ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
      guard r.lowerBound == expected else {
        let what =
          r.lowerBound < expected
          ? "overlap (patients \(r.lowerBound)..<\(expected) twice)" : "leave out patients \(expected)..<\(r.lowerBound)"
        throw InputError(file: out, path: "", message: "the shards \(what)")
      }
      expected = r.upperBound
    }
    guard expected == total else { throw InputError(file: out, path: "", message: "the shards leave out patients \(expected)..<\(total)") }
    merged.ranges = [0..<total]
    // Every shard whole, and every header the first one's, before anything is written.
    var headers: [(fields: [String], bytes: Int)] = []
    for s in shards {
      let head = try checkRows(dir: s.dir, patients: s.aggregate.ranges.reduce(0) { $0 + $1.count })
      if let first = headers.first, first.fields != head.fields {
        throw InputError(
          file: (s.dir as NSString).appendingPathComponent("patients.csv"), path: "header", message: "differs from the first shard's")
      }
      headers.append(head)
    }

    let fm = FileManager.default
    try ResultWriter.createDirectory(out)
    TrialRunner.removeEarlierResults(in: out)
    let path = (out as NSString).appendingPathComponent("patients.csv")
    guard fm.createFile(atPath: path + ".partial", contents: nil), let h = FileHandle(forWritingAtPath: path + ".partial") else {
      throw InputError(file: path, path: "", message: "cannot create the file")
    }
    for (k, s) in shards.enumerated() {
      let src = (s.dir as NSString).appendingPathComponent("patients.csv")
      guard let r = FileHandle(forReadingAtPath: src) else { throw InputError(file: src, path: "", message: "cannot read the file") }
      defer { try? r.close() }
      // Copy in chunks, dropping the header record of all but the first shard.
      var skip = k == 0 ? 0 : headers[k].bytes
      while true {
        var chunk = r.readData(ofLength: 1 << 20)
        if chunk.isEmpty { break }
        if skip > 0 {
          let n = min(skip, chunk.count)
          chunk = Data(chunk.dropFirst(n))
          skip -= n
        }
        try h.write(contentsOf: chunk)
      }
    }
    try h.close()
    if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
    try fm.moveItem(atPath: path + ".partial", toPath: path)
    try ResultWriter.atomicWrite(merged.json.render() + "\n", to: (out as NSString).appendingPathComponent("aggregate.json"))
  }

  /// Refuses a shard whose `patients.csv` is not a header and one whole record per patient of
  /// its `aggregate.json` (a shard cut short, or one still being written); returns the
  /// header's fields and its length in bytes with its line break, which the merge drops from
  /// all shards but the first.
  static func checkRows(dir: String, patients: Int) throws -> (fields: [String], bytes: Int) {
    let path = (dir as NSString).appendingPathComponent("patients.csv")
    guard let h = FileHandle(forReadingAtPath: path) else { throw InputError(file: path, path: "", message: "cannot read the file") }
    let size = h.seekToEndOfFile()
    var last: UInt8 = 0x0A
    if size > 0 {
      h.seek(toFileOffset: size - 1)
      last = h.readData(ofLength: 1).first ?? 0
    }
    try? h.close()
    guard last == 0x0A else {
      throw InputError(file: path, path: "", message: "ends inside a row (the shard is truncated or still running)")
    }
    // Records, not lines: a quoted arm name or category may hold a line break.
    var header: (fields: [String], bytes: Int)? = nil
    var records = 0
    try CSVFile.read(path: path) { record in
      if header == nil { header = (record.fields, record.end) }
      records += 1
    }
    guard let found = header, records == patients + 1 else {
      throw InputError(
        file: path, path: "",
        message:
          "has \(max(records - 1, 0)) patient rows; its aggregate.json counts \(patients) (the shard is truncated or from another run)")
    }
    return found
  }
}
