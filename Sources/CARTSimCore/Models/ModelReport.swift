import CARTModels
import CSVKit
import Foundation

/// A built-in model as users read about it — title, states, observables and the parameter
/// table with values, units, evidence levels and sources — rendered once for `cartsim models`,
/// `/api/models` and the Models pages.
public struct ModelReport: Sendable {
  public let id: String
  public let title: String
  public let states: [String]
  public let observables: [Observable]
  public let parameters: [ParameterInfo]

  /// The model `id`, or nil for an unknown one.
  public init?(_ id: String) {
    guard let d = ModelCatalog.describe(id) else { return nil }
    self.id = id
    title = d.title
    states = d.states
    observables = d.observables
    parameters = d.parameters.table
  }

  /// Every built-in model, in the catalog's order.
  public static var all: [ModelReport] { ModelCatalog.ids.compactMap(ModelReport.init) }

  /// Parameters whose value is an assumption (no data behind it).
  public var assumedCount: Int { parameters.filter { $0.evidence == .assumed }.count }

  /// One line of `cartsim models`.
  public var listLine: String {
    "\(id.padding(toLength: 16, withPad: " ", startingAt: 0)) \(states.count) states, \(parameters.count) parameters — \(title)"
  }

  /// The parameter table as CSV (quoted where a field needs it).
  public var csv: String {
    (["name,value,unit,evidence,source,description"]
      + parameters.map { p in
        CSV.row([p.name, formatNumber(p.value), p.unit, p.evidence.rawValue, p.source, p.description])
      }).joined(separator: "\n") + "\n"
  }

  /// The parameter table as Markdown.
  public var markdown: String {
    (["| Parameter | Value | Unit | Evidence | Source | Meaning |\n|---|---|---|---|---|---|"]
      + parameters.map { p in
        "| `\(p.name)` | \(formatNumber(p.value)) | \(p.unit) | \(p.evidence.rawValue) | \(p.source) | \(p.description) |"
      }).joined(separator: "\n") + "\n"
  }

  /// States, observables and the parameter table as aligned text.
  public var text: String {
    let w0 = max(4, parameters.map(\.name.count).max() ?? 0), w2 = max(4, parameters.map(\.unit.count).max() ?? 0)
    func pad(_ s: String, _ w: Int) -> String { s.padding(toLength: w, withPad: " ", startingAt: 0) }
    var out = [
      "\(id): \(title)", "states: \(states.joined(separator: ", "))",
      "observables: \(observables.map { "\($0.name) [\($0.unit)]" }.joined(separator: ", "))\n",
      pad("NAME", w0) + "  VALUE       " + pad("UNIT", w2) + "  EVIDENCE  SOURCE",
    ]
    for p in parameters {
      out.append(
        pad(p.name, w0) + "  " + pad(formatNumber(p.value), 10) + "  " + pad(p.unit, w2) + "  " + pad(p.evidence.rawValue, 8) + "  "
          + p.source)
    }
    return out.joined(separator: "\n") + "\n"
  }

  /// The entry of `/api/models`.
  public var summaryJSON: JSONOut {
    .object([
      ("name", .string(id)), ("title", .string(title)), ("states", .int(states.count)),
      ("parameters", .int(parameters.count)), ("url", .string("/api/models/\(id)")),
    ])
  }

  /// `/api/models/{name}`.
  public var detailJSON: JSONOut {
    .object([
      ("name", .string(id)), ("title", .string(title)),
      ("states", .array(states.map { .string($0) })),
      (
        "observables",
        .array(
          observables.map { .object([("name", .string($0.name)), ("unit", .string($0.unit)), ("description", .string($0.description))]) })
      ),
      (
        "parameters",
        .array(
          parameters.map {
            .object([
              ("name", .string($0.name)), ("value", .num($0.value)), ("unit", .string($0.unit)),
              ("evidence", .string($0.evidence.rawValue)),
              ("source", .string($0.source)), ("description", .string($0.description)),
            ])
          })
      ),
    ])
  }
}
