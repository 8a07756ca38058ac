import Foundation
import SBMLDocument
import SBMLKit

/// A control stream with its data, read from files: what `cartsim nlme` works on.
public struct NLMEProblem: Sendable {
  public var stream: ControlStream
  public var model: NLMEModel
  public var data: Dataset

  /// The largest control stream or data file read (bytes).
  public static let maxFileBytes = 512 << 20

  /// Reads the control stream at `path` and its `$DATA` (relative to the control stream's
  /// folder), or `dataPath` in its place.
  /// - Throws: ``NLMEError`` naming the file and line at fault.
  /// - Parameter builtIn: the SBML text of a built-in model by name (the JSON form's `model`).
  public init(controlStream path: String, dataPath: String? = nil, builtIn: ((String) throws -> String)? = nil) throws {
    let url = URL(fileURLWithPath: path)
    let text = try Self.read(url)
    let stream =
      url.pathExtension.lowercased() == "json"
      ? try ControlStream(json: text, file: url.lastPathComponent) : try ControlStream(text: text, file: url.lastPathComponent)
    guard let record = stream.data else { throw NLMEError(url.lastPathComponent, field: "$DATA", "missing") }
    let dataURL =
      dataPath.map { URL(fileURLWithPath: $0) } ?? URL(fileURLWithPath: record.path, relativeTo: url.deletingLastPathComponent())
    var compiled: CompiledSBML? = nil
    if let source = stream.sbml?.source {
      let text: String
      if source.hasPrefix("builtin:") {
        guard let builtIn else { throw NLMEError(stream.file, field: "model", "built-in models are not available here") }
        text = try builtIn(String(source.dropFirst(8)))
      } else {
        text = try Self.read(URL(fileURLWithPath: source, relativeTo: url.deletingLastPathComponent()))
      }
      do {
        compiled = try CompiledSBML(try SBMLModel.parse(Data(text.utf8)))
      } catch let e as NLMEError {
        throw e
      } catch {
        throw NLMEError(stream.file, field: "sbml", "\(source): \(error)")
      }
    }
    try self.init(stream: stream, dataText: try Self.read(dataURL), dataSource: dataURL.lastPathComponent, sbml: compiled)
  }

  /// A control stream and data already in memory.
  public init(stream: ControlStream, dataText: String, dataSource: String, sbml: CompiledSBML? = nil) throws {
    guard let record = stream.data else { throw NLMEError(stream.file, field: "$DATA", "missing") }
    self.stream = stream
    model = try NLMEModel(stream, sbml: sbml)
    data = try Dataset(text: dataText, source: dataSource, input: stream.input, record: record)
    if model.kinetics?.sbml != nil,
      let s = data.subjects.first(where: { $0.records.contains { $0.ss != 0 } }),
      let r = s.records.first(where: { $0.ss != 0 })
    {
      throw NLMEError(
        dataSource, line: r.line, field: "SS",
        "steady-state doses with an SBML model are not supported yet (closed forms and $DES have them)")
    }
  }

  static func read(_ url: URL) throws -> String {
    let name = url.lastPathComponent
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else {
      throw NLMEError(name, "cannot be read (\(url.path))")
    }
    if let size = attributes[.size] as? Int, size > maxFileBytes { throw NLMEError(name, "larger than \(maxFileBytes >> 20) MiB") }
    guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
      throw NLMEError(name, "cannot be read as UTF-8 text")
    }
    return text
  }

  /// The same problem starting from other estimates (what `$THETA`, `$OMEGA` and `$SIGMA`
  /// would say after a previous estimation step).
  public func withInitial(_ p: PopulationParameters) -> NLMEProblem {
    var copy = self
    for k in copy.stream.thetas.indices { copy.stream.thetas[k].initial = p.theta[k] }
    func blocks(_ list: [ControlStream.VarianceBlock], _ m: [Double]) -> [ControlStream.VarianceBlock] {
      let n = list.reduce(0) { $0 + $1.size }
      var offset = 0
      return list.map { b in
        var b = b
        b.values =
          b.block
          ? (0..<b.size).flatMap { r in (0...r).map { c in m[(offset + r) * n + offset + c] } }
          : (0..<b.size).map { m[(offset + $0) * n + offset + $0] }
        offset += b.size
        return b
      }
    }
    copy.stream.omegas = blocks(copy.stream.omegas, p.omega)
    copy.stream.sigmas = blocks(copy.stream.sigmas, p.sigma)
    copy.model.stream = copy.stream
    return copy
  }

  /// The initial estimates of the control stream.
  public var initial: PopulationParameters {
    PopulationParameters(
      theta: stream.thetas.map(\.initial), omega: ControlStream.matrix(stream.omegas), sigma: ControlStream.matrix(stream.sigmas))
  }
}
