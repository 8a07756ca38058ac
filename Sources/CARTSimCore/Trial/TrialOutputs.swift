import Foundation

/// What a complete run writes after `patients.csv` — the results (`summary.json`, `km.csv`,
/// `report.html`, `plots/`) and, against targets, `targets.json` — in one place for
/// `cartsim trial` and `cartsim merge`.
public enum TrialOutputs {
  /// Writes the results of the complete run in `dir`; then, when `targets` gives a list for the
  /// run's arms, checks them and writes `targets.json`. Returns the checks (nil without targets).
  @discardableResult
  public static func write(dir: String, targets: ([String]) throws -> [Target]?) throws -> [TargetCheck]? {
    let results = try TrialResults.load(dir: dir)
    try results.write(to: dir)
    let arms = results.aggregate.arms.map(\.name)
    guard let list = try targets(arms) else { return nil }
    let checks = try TargetCheck.check(trialDir: dir, arms: arms, targets: list)
    try ResultWriter.writeText(TargetCheck.json(checks).render() + "\n", to: (dir as NSString).appendingPathComponent("targets.json"))
    return checks
  }
}

extension TargetCheck {
  /// The lines the command line prints about the checks of a run: how many targets lie inside,
  /// and each that does not.
  public static func summary(_ checks: [TargetCheck]) -> String {
    var out = [
      "\(checks.filter { $0.inside == true }.count) of \(checks.count) targets inside the central 95% of what the arms predict for a trial of the observed size"
    ]
    for c in checks where c.inside == false { out.append("  outside: \(c.target.id) (observed \(c.target.observedDescription))") }
    return out.joined(separator: "\n") + "\n"
  }
}
