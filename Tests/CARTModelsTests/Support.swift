import Foundation
import ODEKit

/// Reads a CSV with a header row of names and numeric rows.
func readCSV(_ url: URL) throws -> (header: [String], rows: [[Double]]) {
  let lines = try String(contentsOf: url, encoding: .utf8).split(whereSeparator: \.isNewline)
  let header = lines[0].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
  let rows = lines.dropFirst().map { $0.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces))! } }
  return (header, rows)
}

func fixture(_ name: String) throws -> URL {
  guard let url = Bundle.module.url(forResource: name, withExtension: "csv", subdirectory: "Fixtures") else {
    throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "fixture \(name).csv missing"])
  }
  return url
}
