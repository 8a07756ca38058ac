import Estimation
import Foundation

/// The files of `cartsim profile`: `profiles.json` (every profile, its 95% interval and
/// identifiability) and one plot per parameter, `profile_<id>.svg`.
public enum ProfileReport {
  public struct Document: Codable {
    public var problem: String
    public var threshold: Double
    public var best_nllh: Double
    public var profiles: [ProfileLikelihood.Profile]
  }

  public static func plot(_ p: ProfileLikelihood.Profile, title: String) -> String {
    var plot = LinePlot(
      title: "Profile of \(p.parameter) (\(title))", xLabel: "\(p.parameter) (\(p.scale) scale)",
      yLabel: "nllh − best")
    let y = p.nllh.map { $0 - p.bestNllh }
    plot.series = [
      LinePlot.Series(name: "profile", x: p.values, y: y, color: "#1f5fa8"),
      LinePlot.Series(name: "re-optimised points", x: p.values, y: y, color: "#1f5fa8", points: true),
    ]
    plot.references = [LinePlot.Reference(y: ProfileLikelihood.threshold, label: "95% threshold χ²₁(0.95)/2", color: "#b33")]
    return plot.svg()
  }

  public static func write(problem: String, profiles: [ProfileLikelihood.Profile], bestNllh: Double, to dir: String) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for p in profiles {
      try plot(p, title: problem).write(
        toFile: (dir as NSString).appendingPathComponent("profile_\(p.parameter).svg"), atomically: true, encoding: .utf8)
    }
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    let doc = Document(problem: problem, threshold: ProfileLikelihood.threshold, best_nllh: bestNllh, profiles: profiles)
    try (String(decoding: try enc.encode(doc), as: UTF8.self) + "\n").write(
      toFile: (dir as NSString).appendingPathComponent("profiles.json"), atomically: true, encoding: .utf8)
  }
}
