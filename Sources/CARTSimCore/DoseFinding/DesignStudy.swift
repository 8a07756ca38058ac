import CARTModels
import DoseFinding
import Foundation

/// Phase I dose-finding studies as users ask for them (`cartsim design oc|compare|boundaries|next`
/// and `/api/design/*`): settings in, a report out. Errors are ``DoseFindingInputError``s that
/// name the settings' snake_case fields, or the row and column of the accrued data.
public enum DesignStudy {
  /// The most simulated trials and exact-enumeration states one run may ask for.
  public static let maxTrials = 100_000_000, maxStatesLimit = 100_000_000

  /// Operating characteristics of one design.
  public static func operatingCharacteristics(design: String, settings: DesignSettings, run: OCRunSettings) throws -> OCReport {
    let (p, q, model) = try curves(run)
    let d = try AnyDesign.make(design, doseCount: p.count, options: settings.options())
    return OCReport(try characteristics(d, p, q, run), design: d, seed: run.seed, modelCurves: model)
  }

  /// Several designs on the same simulated patients (the same random streams).
  public static func compare(designs names: [String], settings: DesignSettings, run: OCRunSettings) throws -> CompareReport {
    guard !names.isEmpty else { throw DoseFindingInputError(field: "designs", "is empty") }
    let (p, q, model) = try curves(run)
    let options = try settings.options()
    let built = try names.map { try AnyDesign.make($0, doseCount: p.count, options: options) }
    let reports = try built.map { OCReport(try characteristics($0, p, q, run), design: $0, seed: run.seed, modelCurves: nil) }
    return CompareReport(designs: reports, modelCurves: model)
  }

  /// BOIN's decision table for every multiple of the cohort size up to the sample size.
  public static func boundaries(_ b: BoundarySettings) throws -> BoundariesReport {
    let maxN = try DesignSettings.sampleSize(cohorts: b.cohorts, cohortSize: b.cohortSize)
    let table = try BOINBoundaries(target: b.target, pSafe: b.pSaf, pToxic: b.pTox, cutoff: b.cutoffEli)
    let rows = table.table(maxN: maxN).filter { $0.n % b.cohortSize == 0 }
    return BoundariesReport(
      target: b.target, lambdaE: table.lambdaE, lambdaD: table.lambdaD, cutoffEli: b.cutoffEli,
      n: rows.map(\.n), escalate: rows.map(\.escalate), deescalate: rows.map(\.deescalate),
      eliminate: rows.map(\.eliminate))
  }

  /// The next dose for a real trial's accrued data (`csv`: header `dose,patients,dlts`, read by
  /// ``AccruedData``; `source` names it in errors). `doses` defaults to the skeleton's length;
  /// `current` (1-based) to the last row's dose.
  public static func nextDose(
    design: String, settings: DesignSettings, csv: String, source: String,
    doses: Int?, current: Int?
  ) throws -> NextDoseReport {
    let options = try settings.options()
    guard let k = doses ?? options.skeleton?.count else {
      throw DoseFindingInputError(field: "doses", "give the number of dose levels (or a skeleton)")
    }
    guard (1...TrialConfig.maxDoses).contains(k) else { throw DoseFindingInputError(field: "doses", "must be 1…\(TrialConfig.maxDoses)") }
    let table = try AccruedData(csv: csv, source: source, doses: k)
    let cur = (current ?? table.lastDose) - 1
    guard (0..<k).contains(cur) else { throw DoseFindingInputError(field: "current", "must be between 1 and \(k) (got \(cur + 1))") }
    guard table.patients[cur] > 0 else {
      throw DoseFindingInputError(source: source, field: "dose \(cur + 1)", "the current dose has no patients")
    }
    let d = try AnyDesign.make(design, doseCount: k, options: options)
    let last = table.rowsAreCohorts && table.lastDose - 1 == cur ? table.lastRow : nil
    let r = d.recommend(patients: table.patients, dlts: table.dlts, current: cur, lastCohort: last)
    return NextDoseReport(
      design: d.name, target: d.target, currentDose: cur + 1, patients: table.patients, dlts: table.dlts,
      recommendation: r, source: source)
  }

  // MARK: Pieces

  /// The true curves, checked, and the model's report when derived from it.
  static func curves(_ run: OCRunSettings) throws -> (tox: [Double], response: [Double]?, model: ModelCurvesReport?) {
    guard (1...Limits.threads).contains(run.threads) else {
      throw DoseFindingInputError(field: "threads", "must be 1…\(Limits.threads) (got \(run.threads))")
    }
    switch run.curves {
    case .model(let m):
      let c = try modelCurves(m, threads: run.threads)
      return (c.pDLT, c.pResponse, ModelCurvesReport(curves: c))
    case .given(let p, let q):
      try DoseFindingMath.checkProbabilities(p, field: "p_true")
      if let q { try DoseFindingMath.checkProbabilities(q, field: "p_response") }
      guard (1...maxTrials).contains(run.trials) else {
        throw DoseFindingInputError(field: "trials", "must be 1…\(maxTrials) (got \(run.trials))")
      }
      return (p, q, nil)
    }
  }

  static func characteristics(_ design: AnyDesign, _ p: [Double], _ q: [Double]?, _ run: OCRunSettings) throws -> OperatingCharacteristics {
    if run.exact {
      guard (1...maxStatesLimit).contains(run.maxStates) else {
        throw DoseFindingInputError(field: "max_states", "must be 1…\(maxStatesLimit) (got \(run.maxStates))")
      }
      do { return try ExactOC.compute(design, pTrue: p, pResponse: q, maxStates: run.maxStates) } catch let e as ExactOC.TooManyStates {
        throw DoseFindingInputError(field: "exact", e.description)
      }
    }
    return try DoseFindingSimulation.simulate(design, pTrue: p, pResponse: q, trials: run.trials, seed: run.seed, threads: run.threads)
  }

  /// DLT and response fractions per dose level on one arm of the spec.
  static func modelCurves(_ m: ModelCurveSettings, threads: Int) throws -> DoseCurves {
    let doses = m.doseLevels
    guard !doses.isEmpty, doses.allSatisfy({ $0 > 0 && $0 <= Limits.carTDose }), zip(doses, doses.dropFirst()).allSatisfy({ $0 < $1 }),
      doses.count <= TrialConfig.maxDoses
    else {
      throw DoseFindingInputError(
        field: "dose_levels", "must be positive (≤ \(Limits.carTDose)) and increasing, at most \(TrialConfig.maxDoses) levels")
    }
    guard (1...Limits.patients).contains(m.patients) else {
      throw DoseFindingInputError(field: "model_patients", "must be 1…\(Limits.patients) (got \(m.patients))")
    }
    do {
      var spec = m.spec
      if let dlt = m.dlt { spec.dlt = try TrialSpec.DLT.parse(dlt, field: "dlt") }
      if let followUp = m.followUp {
        guard followUp > 0, followUp <= Limits.horizonDays else {
          throw DoseFindingInputError(field: "follow_up", "must be > 0 and ≤ \(Limits.horizonDays) days")
        }
        spec.followUpDays = followUp
        for i in spec.arms.indices {
          spec.arms[i].scenario.horizonDays = max(followUp, spec.arms[i].scenario.regimen.infusions.map(\.day).max() ?? 0)
        }
      }
      var basis: DoseBasis? = nil
      if let name = m.doseBasis {
        guard let b = DoseBasis(rawValue: name) else {
          throw DoseFindingInputError(
            field: "dose_basis", "unknown basis '\(name)' (\(DoseBasis.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        basis = b
      }
      var armIndex = 0
      if let arm = m.arm {
        guard let i = spec.arms.firstIndex(where: { $0.name == arm }) else {
          throw DoseFindingInputError(
            source: m.source, field: "arm", "no arm named '\(arm)' (arms: \(spec.arms.map(\.name).joined(separator: ", ")))")
        }
        armIndex = i
      }
      return try spec.doseCurves(arm: armIndex, doses: doses, basis: basis, patients: m.patients, threads: threads)
    } catch let e as InputError {
      throw DoseFindingInputError(
        source: e.file == "command line" ? "settings" : e.file, field: e.path.isEmpty ? "from_model" : e.path, e.message)
    }
  }
}
