import CSVKit
import Dispatch
import Foundation
import ODEKit
import Parallel
import SBMLDocument
import SBMLKit

/// One case of the SBML Test Suite layout: `NNNNN-settings.txt`, `NNNNN-results.csv`,
/// one SBML file and (for the suite) `NNNNN-model.m`.
public struct ConformanceCase: Sendable {
  public var id: String
  public var directory: URL

  /// The outcome of running a case.
  public enum Outcome: Sendable, Equatable {
    case pass
    case fail(variable: String, detail: String)
    case unsupported(String)
    case error(String)

    /// The line printed for the case: `CASE pass`, `CASE fail VARIABLE`, …
    public func line(_ id: String) -> String {
      switch self {
      case .pass: return "\(id) pass"
      case .fail(let v, let d): return "\(id) fail \(v) (\(d))"
      case .unsupported(let w): return "\(id) unsupported \(w)"
      case .error(let w): return "\(id) error \(w)"
      }
    }
    public var passed: Bool { self == .pass }
    public var kind: String {
      switch self {
      case .pass: "pass"
      case .fail: "fail"
      case .unsupported: "unsupported"
      case .error: "error"
      }
    }
  }

  /// All case folders at or below `url` (a case folder itself, or a folder of them).
  public static func discover(_ url: URL) -> [ConformanceCase] {
    let fm = FileManager.default
    let name = url.lastPathComponent
    if fm.fileExists(atPath: url.appendingPathComponent("\(name)-settings.txt").path) {
      return [ConformanceCase(id: name, directory: url)]
    }
    guard let items = try? fm.contentsOfDirectory(atPath: url.path) else { return [] }
    return items.sorted().flatMap { item -> [ConformanceCase] in
      var isDir: ObjCBool = false
      let sub = url.appendingPathComponent(item)
      guard fm.fileExists(atPath: sub.path, isDirectory: &isDir), isDir.boolValue else { return [] }
      return discover(sub)
    }
  }

  struct Settings {
    var start = 0.0, duration = 0.0, steps = 0
    var variables: [String] = []
    var absolute = 0.0, relative = 0.0
    var amount: Set<String> = [], concentration: Set<String> = []
  }

  func settings() throws -> Settings {
    let text = try String(contentsOf: directory.appendingPathComponent("\(id)-settings.txt"), encoding: .utf8)
    var s = Settings()
    for line in text.split(whereSeparator: \.isNewline) {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let key = line[..<colon].trimmingCharacters(in: .whitespaces)
      let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      let list = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      switch key {
      case "start": s.start = Double(value) ?? 0
      case "duration": s.duration = Double(value) ?? 0
      case "steps": s.steps = min(max(Int(value) ?? 0, 0), 5_000_000)
      case "variables": s.variables = list
      case "absolute": s.absolute = Double(value) ?? 0
      case "relative": s.relative = Double(value) ?? 0
      case "amount": s.amount = Set(list)
      case "concentration": s.concentration = Set(list)
      default: break
      }
    }
    return s
  }

  /// Runs the case with the suite's pass rule: every point |expected − actual| ≤
  /// absolute + relative·|expected| (NaN must match NaN).
  public func run(timeLimit: Double = 30, method: ODEMethod = .auto) -> Outcome {
    let fm = FileManager.default
    let modelFile = directory.appendingPathComponent("\(id)-model.m")
    if let m = try? String(contentsOf: modelFile, encoding: .utf8), m.contains("FluxBalanceSteadyState") {
      return .unsupported("FluxBalanceSteadyState (fbc)")
    }
    guard let files = try? fm.contentsOfDirectory(atPath: directory.path),
      let sbml = files.filter({ $0.hasPrefix("\(id)-sbml") && $0.hasSuffix(".xml") }).sorted().last
    else { return .error("no SBML file") }
    do {
      let s = try settings()
      let model = try SBMLModel.load(path: directory.appendingPathComponent(sbml).path)
      let compiled = try CompiledSBML(model)
      let system = SBMLSystem(compiled)
      let vars = s.variables.map { v -> (id: String, quantity: SBMLSystem.Quantity) in
        (v, s.amount.contains(v) ? .amount : (s.concentration.contains(v) ? .concentration : .symbol))
      }
      for v in vars where compiled.slots[v.id] == nil { return .error("output variable '\(v.id)' is not in the model") }
      let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeLimit * 1e9)
      let tc = system.simulate(
        start: s.start, duration: s.duration, steps: s.steps, variables: vars,
        method: method, interrupt: { DispatchTime.now().uptimeNanoseconds > deadline })
      if tc.returnCode == .interrupted { return .fail(variable: "-", detail: "time limit \(Int(timeLimit)) s") }
      let results = try String(contentsOf: directory.appendingPathComponent("\(id)-results.csv"), encoding: .utf8)
      let table = try CSV.parse(
        results, source: "\(id)-results.csv", skip: { $0.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } })
      guard table.headerLine > 0 else { return .error("\(id)-results.csv is empty") }
      let header = table.header.map { $0.trimmingCharacters(in: .whitespaces) }
      guard tc.times.count == table.rows.count else {
        return .fail(variable: "-", detail: "solver \(tc.returnCode.rawValue) at t = \(tc.times.last ?? s.start)")
      }
      for (i, row) in table.rows.enumerated() {
        let cells = row.map { $0.trimmingCharacters(in: .whitespaces) }
        // Columns by position: 0 is time, then the settings' variables in order.
        for (k, name) in header.enumerated().dropFirst() where k - 1 < tc.variables.count && k < cells.count {
          let j = k - 1
          let cell = cells[k]
          let expected = Double(cell) ?? (cell.lowercased().contains("nan") ? .nan : (cell.hasPrefix("-") ? -.infinity : .infinity))
          let actual = tc.values[i][j]
          if expected == actual { continue }
          if expected.isNaN {
            if !actual.isNaN { return .fail(variable: name, detail: "t = \(tc.times[i]): expected NaN, got \(actual)") }
            continue
          }
          if expected.isInfinite {
            if actual != expected { return .fail(variable: name, detail: "t = \(tc.times[i]): expected \(expected), got \(actual)") }
            continue
          }
          if !(abs(expected - actual) <= s.absolute + s.relative * abs(expected)) {
            return .fail(variable: name, detail: "t = \(tc.times[i]): expected \(expected), got \(actual)")
          }
        }
      }
      return .pass
    } catch let e as SBMLError {
      return e.kind == .unsupported ? .unsupported(e.message) : .error(e.description)
    } catch {
      return .error("\(error)")
    }
  }

  /// Runs cases on `threads` threads; results in the order given.
  public static func runAll(_ cases: [ConformanceCase], threads: Int, timeLimit: Double) -> [Outcome] {
    Parallel.map(cases.count, threads: max(1, threads)) { cases[$0].run(timeLimit: timeLimit) }
  }
}

/// The outcomes of a run of cases, as `cartsim sbml test --json` writes them.
public struct ConformanceReport: Codable, Sendable {
  public struct Entry: Codable, Sendable {
    public var `case`: String
    /// pass, fail, unsupported or error.
    public var outcome: String
    /// The variable that failed the pass rule.
    public var variable: String?
    public var detail: String?
  }

  public var passed: Int
  public var failed: Int
  public var cases: [Entry]

  public init(_ cases: [ConformanceCase], _ outcomes: [ConformanceCase.Outcome]) {
    self.cases = zip(cases, outcomes).map { c, o in
      var e = Entry(case: c.id, outcome: o.kind)
      switch o {
      case .pass: break
      case .fail(let v, let d): (e.variable, e.detail) = (v, d)
      case .unsupported(let w), .error(let w): e.detail = w
      }
      return e
    }
    passed = outcomes.filter(\.passed).count
    failed = outcomes.count - passed
  }

  /// Pretty-printed JSON with sorted keys.
  public func json() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
  }
}
