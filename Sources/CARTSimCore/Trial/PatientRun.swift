import CARTModels
import Foundation
import ODEKit
import StatKit

/// One simulated trial patient: who it is, the solver's status, and the endpoints.
public struct PatientRecord: Sendable {
  public var arm: Int
  public var id: Int
  public var status: String
  public var covariates: [String: CovariateValue]
  public var parameters: [(name: String, value: Double)]
  public var cmax: Double?
  public var tmax: Double?
  public var auc028: Double?
  public var persistenceDays: Double?
  /// The calibration's posterior particle that set this patient's typical values (nil without one).
  public var particle: Int?
  /// First infusion's dose in the arm's dose basis (per m² unless the basis is absolute cells).
  public var dosePerM2: Double?
  /// Infusions given (after the dosing rules).
  public var infusions: Int?
  /// Infusions after which CAR T cells in blood rose at least `Summary.expansionFold`-fold.
  public var expandedInfusions: Int?
  /// Infusions given after lymphodepletion, and how many of them were followed by expansion.
  public var lymphodepletedInfusions: Int?
  public var expandedLymphodepletedInfusions: Int?
  public var il6Peak: Double?
  public var crsGrade: Int?
  public var dlt: Bool?
  public var best: Response?
  public var bestPercentChange: Double?
  public var responseDay: Double?
  public var progressionDay: Double?
  public var pfsDays: Double?
  public var pfsEvent: Bool?
  public var osDays: Double?
  public var osEvent: Bool?
  /// CAR T cells in blood (cells/µL) on the trial's kinetics days (not written to patients.csv).
  public var kinetics: [Double] = []
  /// The RECIST assessments (for spider plots of sample patients).
  public var assessments: [RECIST.Assessment] = []

  public var succeeded: Bool { status == ReturnCode.success.rawValue }
}

extension TrialSpec {
  /// Days on which CAR T kinetics are tallied: every day from 0 through the first year.
  public var kineticsDays: [Double] { (0...Int(min(followUpDays, 365))).map(Double.init) }

  /// Simulates patient `id` of arm `arm`: samples the patient, runs the arm's regimen through
  /// the follow-up, and derives the endpoints. Solver failure is recorded in `status` and the
  /// endpoints are left empty.
  ///
  /// `fixed` sets typical parameter values for this patient (a calibration's particle): they
  /// replace the spec's values, and between-patient variability is centred on them. Without
  /// `fixed`, a spec with calibrated parameters draws the patient's particle from their
  /// posterior sample (``CalibratedParameters/particle(seed:arm:id:paired:)``).
  public func simulatePatient(
    arm: Int, id: Int, armParameters: ParameterSet,
    fixed: [(name: String, value: Double)]? = nil
  ) -> PatientRecord {
    let a = arms[arm]
    let drawn = fixed == nil ? calibrated?.particle(seed: seed, arm: arm, id: id, paired: paired) : nil
    let typical = fixed ?? drawn?.values ?? []
    var centre = armParameters
    for (name, value) in typical { try? centre.set(name, to: value) }
    let vp = population.sample(
      seed: seed, arm: arm, id: id, paired: paired, base: a.scenario.patient,
      modelDefaults: centre)
    var scenario = a.scenario
    scenario.parameterOverrides = scenario.parameterOverrides.filter { o in !typical.contains { $0.name == o.name } } + typical
    scenario.patient = vp.patient
    let dose = a.dose(patient: id)
    for k in scenario.regimen.infusions.indices { scenario.regimen.infusions[k].dose = dose }
    var overrides = scenario.parameterOverrides.filter { o in !vp.parameters.contains { $0.name == o.name } }
    overrides += vp.parameters
    scenario.parameterOverrides = overrides
    scenario.assessmentEveryDays = assessment.everyDays
    scenario.crSLDmm = assessment.completeResponseSLDmm
    var record = PatientRecord(arm: arm, id: id, status: "", covariates: vp.covariates, parameters: vp.parameters)
    record.dosePerM2 = dose
    record.particle = drawn?.index
    let result: SimulationResult
    do {
      result = try Simulator.run(scenario, file: file)
    } catch {
      record.status = "InvalidParameters"
      return record
    }
    record.status = result.returnCode.rawValue
    guard record.succeeded else { return record }

    let s = result.summary
    record.cmax = s.carTCmax
    record.tmax = s.carTTmax
    record.auc028 = s.carTAUC028
    record.persistenceDays = s.persistenceDays
    record.infusions = result.scenario.regimen.infusions.count
    record.expandedInfusions = s.infusionPeaks.filter { $0.fold >= Summary.expansionFold }.count
    let given = result.scenario.regimen.infusions
    let ldDays = Set(given.filter(\.lymphodepleted).map(\.day))
    record.lymphodepletedInfusions = ldDays.count
    record.expandedLymphodepletedInfusions = s.infusionPeaks.filter { ldDays.contains($0.day) && $0.fold >= Summary.expansionFold }.count
    record.il6Peak = s.il6Peak
    record.crsGrade = s.crsGrade
    let t = result.times
    let first = a.scenario.regimen.infusions.map(\.day).min() ?? 0
    if let grade = result.series("crs_grade_proxy") {
      let early = t.indices.filter { t[$0] >= first && t[$0] <= first + dlt.windowDays }.map { grade[$0] }.max() ?? 0
      record.dlt = Int(early) >= dlt.crsGradeAtLeast
    }
    if let car = result.series("car_t_blood") {
      var i = 0
      record.kinetics = kineticsDays.map { d in
        while i + 1 < t.count && t[i + 1] <= d + 1e-9 { i += 1 }
        return car[i]
      }
    }

    // Dropout and death (piecewise-exponential hazard, switching at the progression found).
    var rng = RandomStream(seed: seed, id: RandomStream.address(paired ? 0 : UInt64(arm) + 1, UInt64(id), 1))
    let deathDraw = -Foundation.log(rng.uniform())
    let dropoutDraw = -Foundation.log(rng.uniform())
    let dropout = survival.dropoutPerYear > 0 ? dropoutDraw / (survival.dropoutPerYear / 365.25) : .infinity
    let onStudy = min(followUpDays, dropout.rounded(.up))
    guard let sld = result.series("sld") else { return record }
    var outcome = RECIST.evaluate(times: t, sld: sld, lastDay: onStudy, rules: assessment)
    let hPre = Foundation.log(2) / survival.preProgressionMedianDays
    let hPost = Foundation.log(2) / survival.postProgressionMedianDays
    let progression = outcome.progressionDay ?? .infinity
    var death = deathDraw / hPre
    if death >= progression { death = progression + (deathDraw - hPre * progression) / hPost }
    death = death.rounded(.up)
    if death < progression && death <= onStudy {
      // Died before the progression would have been seen: assessments stop at death.
      outcome = RECIST.outcome(outcome.assessments.filter { $0.day <= death }, rules: assessment)
    }
    record.best = outcome.best
    record.bestPercentChange = outcome.bestPercentChange
    record.responseDay = outcome.responseDay
    record.progressionDay = outcome.progressionDay
    record.assessments = outcome.assessments
    let end = min(onStudy, death)
    record.osDays = end
    record.osEvent = death <= onStudy
    if let p = outcome.progressionDay, p <= end {
      record.pfsDays = p
      record.pfsEvent = true
    } else if death <= onStudy {
      record.pfsDays = death
      record.pfsEvent = true
    } else {
      // Censored at the last tumour assessment (FDA guidance on PFS censoring).
      record.pfsDays = outcome.assessments.last?.day ?? 0
      record.pfsEvent = false
    }
    return record
  }
}
