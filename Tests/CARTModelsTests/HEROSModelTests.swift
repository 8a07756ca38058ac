import CARTModels
import Foundation
import ODEKit
import Testing

struct HEROSModelTests {
  let patient = Patient(ageYears: 14, weightKg: 50, heightCm: 160, baselineSLDmm: 80, her2Level: 1)

  func run(_ model: HEROSModel = HEROSModel(), _ regimen: Regimen, end: Double, times: [Double], start: Double = 0) -> ODESolution {
    let mp = model.makeProblem(patient: patient, regimen: regimen, start: start, end: end)
    return solve(
      mp.problem,
      options: SolverOptions(
        rtol: 1e-9, atol: mp.absoluteTolerances, saveAt: times,
        nonNegative: mp.nonNegative))
  }

  /// Every parameter carries a value, a unit, a source, an evidence level and a meaning.
  @Test(arguments: ModelCatalog.ids)
  func parameterTableComplete(id: String) {
    let d = ModelCatalog.describe(id)!
    #expect(d.parameters.table.count > 5)
    for p in d.parameters.table {
      #expect(p.value.isFinite && p.value >= 0, "\(id).\(p.name)")
      #expect(!p.unit.isEmpty && !p.source.isEmpty && !p.description.isEmpty, "\(id).\(p.name)")
    }
  }

  @Test func overridesAreChecked() throws {
    var m = HEROSModel()
    try m.parameters.set("K_C", to: 5e10)
    #expect(m.parameters["K_C"] == 5e10)
    #expect(m.parameters.table.first { $0.name == "K_C" }!.source.contains("override"))
    #expect(throws: ParameterError.self) { try m.parameters.set("K_X", to: 1) }
    do { try m.parameters.set("k_c", to: 1) } catch let e as ParameterError {
      #expect(e.description.contains("did you mean 'K_C'"))
    }
    #expect(throws: ParameterError.self) { try m.parameters.set("r_N", to: -1) }
    #expect(throws: ParameterError.self) { try m.parameters.set("r_N", to: .nan) }
  }

  /// Mosteller: BSA = √(160 · 50 / 3600) m².
  @Test func mostellerBSA() {
    #expect(abs(patient.bsa - (160.0 * 50 / 3600).squareRoot()) < 1e-15)
    #expect(abs(Patient(weightKg: 70, heightCm: 170).bsa - 1.8181) < 1e-4)
  }

  @Test func sldConversionRoundTrip() {
    let m = HEROSModel()
    for sld in [10.0, 45, 80, 250] {
      #expect(abs(m.sld(cells: m.tumourCells(sld: sld)) - sld) < 1e-9 * sld)
    }
    // Two equal spheres of 40 mm: 2 · π/6 · 4³ cm³ · 1e9 cells/cm³.
    #expect(abs(m.tumourCells(sld: 80) - 2 * Double.pi / 6 * 64 * 1e9) < 1)
  }

  /// Without therapy normal lymphocytes stay at capacity and the tumour follows the
  /// logistic law exactly: S(t) = K / (1 + (K/S0 − 1) e^{−r t}).
  @Test func untreatedTumourIsLogistic() {
    let m = HEROSModel()
    let ts = [0.0, 50, 200, 500]
    let sol = run(m, Regimen(infusions: []), end: 500, times: ts)
    let s0 = m.tumourCells(sld: 80), K = m.parameters["K_T"], r = m.parameters["r_T"]
    for (i, t) in ts.enumerated() {
      let exact = K / (1 + (K / s0 - 1) * exp(-r * t))
      let total = sol[i, HEROSModel.S.SH] + sol[i, HEROSModel.S.SL]
      #expect(abs(total - exact) < 1e-7 * exact, "t = \(t)")
      #expect(abs(sol[i, HEROSModel.S.N] - m.parameters["K_N"] * 50 / 70) < 1e-3)
    }
  }

  /// Pembrolizumab PK (Ahamadi 2017, 2-compartment): the AUC of one dose is Dose/CL, with
  /// CL scaled by (WT/76.8)^0.595, and concentrations stay positive.
  @Test func pembrolizumabAUC() {
    let m = HEROSModel()
    let dose = CheckpointDosing(dose: 2, perKg: true, maxDoseMg: 200, startDay: 0, everyDays: 21, count: 1)
    let ts = stride(from: 0.0, through: 1500, by: 0.05).map { $0 }
    let mp = m.makeProblem(patient: patient, regimen: Regimen(infusions: [], checkpoint: dose), start: 0, end: 1500)
    let sol = solve(mp.problem, options: SolverOptions(rtol: 1e-10, atol: mp.absoluteTolerances, saveAt: ts))
    let conc = (0..<ts.count).map { m.observe(sol.state($0), patient: patient)[10] }
    var auc = 0.0
    for i in 1..<ts.count { auc += 0.5 * (conc[i] + conc[i - 1]) * (ts[i] - ts[i - 1]) }
    let cl = m.parameters["CL_pem"] * pow(50 / 76.8, 0.595)
    let expected = 100 / cl  // mg / (L/d) = mg·d/L = µg·d/mL
    #expect(abs(auc - expected) < 2e-3 * expected, "AUC \(auc) vs \(expected)")
  }

  /// Cyclophosphamide (Ahmed 2020, 1-compartment) against the closed-form infusion curve.
  @Test func cyclophosphamideInfusion() {
    let m = HEROSModel()
    let ld = Lymphodepletion(mode: .pk, agents: [LDAgent(drug: .cyclophosphamide, mgPerM2: 500, days: [-2], infusionDays: 1.0 / 24)])
    let inf = CARTInfusion(day: 0, dose: 1e-9, basis: .cells, lymphodepleted: true)
    let ts = [-1.99, -1.96, -1.9, -1.5, -1.0]
    let sol = run(m, Regimen(infusions: [inf], lymphodepletion: ld), end: 0, times: ts, start: -2)
    let vcy = m.parameters["V_cy"] * pow(patient.bsa / 1.58, 0.861)
    let k = 24 * m.parameters["CL_cy"] / vcy, R = 500 * patient.bsa / (1.0 / 24)
    for (i, t) in ts.enumerated() {
      let tau = t + 2, T = 1.0 / 24
      let amount = tau <= T ? R / k * (1 - exp(-k * tau)) : R / k * (1 - exp(-k * T)) * exp(-k * (tau - T))
      #expect(abs(sol[i, HEROSModel.S.CY] - amount) < 1e-7 * amount, "t = \(t)")
    }
  }

  /// Simplified LD sets normal lymphocytes to N_LD (scaled by weight) at the infusion,
  /// before the dose, and the CAR T cells then expand.
  @Test func simplifiedLymphodepletion() {
    let m = HEROSModel()
    let ld = Lymphodepletion(
      mode: .simplified,
      agents: [
        LDAgent(drug: .fludarabine, mgPerM2: 30, days: [-5, -4, -3]), LDAgent(drug: .cyclophosphamide, mgPerM2: 500, days: [-5]),
      ])
    let inf = CARTInfusion(day: 0, dose: 1e8, basis: .carTCellsPerM2, memoryFraction: 0.3, lymphodepleted: true)
    let sol = run(m, Regimen(infusions: [inf], lymphodepletion: ld), end: 28, times: [0, 10], start: -1)
    #expect(abs(sol[0, HEROSModel.S.N] - m.parameters["N_LD_flu_cy"] * 50 / 70) < 1)
    #expect(abs(sol[0, HEROSModel.S.EB] - 0.7 * 1e8 * patient.bsa) < 1)
    #expect(sol[1, HEROSModel.S.EB] + sol[1, HEROSModel.S.MB] > 10 * 1e8 * patient.bsa)
    #expect(sol.eventLog.map(\.label).prefix(2) == ["lymphodepletion (simplified)", "CAR T infusion 1"])
  }

  /// Fludarabine and cyclophosphamide are set to zero once below `LD_washout` of their EC50:
  /// cyclophosphamide at the time its closed-form decay reaches the threshold, both
  /// compartments then exactly zero, and the cells as without the event (`LD_washout` = 0).
  @Test func lymphodepletingDrugsWashOut() throws {
    let ld = Lymphodepletion(
      mode: .pk,
      agents: [
        LDAgent(drug: .fludarabine, mgPerM2: 30, days: [-5, -4, -3], infusionDays: 0.5 / 24),
        LDAgent(drug: .cyclophosphamide, mgPerM2: 500, days: [-5], infusionDays: 1.0 / 24),
      ])
    let inf = CARTInfusion(day: 0, dose: 1e8, basis: .carTCellsPerM2, memoryFraction: 0.3, lymphodepleted: true)
    let regimen = Regimen(infusions: [inf], lymphodepletion: ld)
    let times = stride(from: 0.0, through: 60, by: 5).map { $0 }
    let m = HEROSModel()
    let sol = run(m, regimen, end: 60, times: times, start: -6)
    var off = HEROSModel()
    try off.parameters.set("LD_washout", to: 0)
    let reference = run(off, regimen, end: 60, times: times, start: -6)
    #expect(sol.returnCode == .success && reference.returnCode == .success)

    let flu = try #require(sol.eventLog.first { $0.label == "fludarabine washed out" })
    let cy = try #require(sol.eventLog.first { $0.label == "cyclophosphamide washed out" })
    #expect(!reference.eventLog.contains { $0.label.contains("washed out") })
    // Cyclophosphamide (one compartment): the amount at the end of the infusion decays as
    // e^{−k t} to the threshold LD_washout·EC50_cy·V_cy.
    let vcy = m.parameters["V_cy"] * pow(patient.bsa / 1.58, 0.861)
    let k = 24 * m.parameters["CL_cy"] / vcy, T = 1.0 / 24, R = 500 * patient.bsa / T
    let atEnd = R / k * (1 - exp(-k * T))
    let expected = -5 + T + log(atEnd / (1e-9 * m.parameters["EC50_cy"] * vcy)) / k
    #expect(abs(cy.time - expected) < 0.05, "cyclophosphamide washed out at \(cy.time), closed form \(expected)")
    #expect(flu.time > -3 && flu.time < 30, "fludarabine washed out at \(flu.time)")
    for i in times.indices where times[i] > max(flu.time, cy.time) {
      for j in [HEROSModel.S.F1, HEROSModel.S.F2, HEROSModel.S.F3, HEROSModel.S.CY] { #expect(sol[i, j] == 0) }
    }
    for i in times.indices {
      for j in [HEROSModel.S.N, HEROSModel.S.EB, HEROSModel.S.MB, HEROSModel.S.ET, HEROSModel.S.SH] {
        let d = abs(sol[i, j] - reference[i, j]) / max(reference[i, j], 1)
        #expect(d < 1e-6, "state \(j) at day \(times[i]): \(sol[i, j]) vs \(reference[i, j]) without washout")
      }
    }
  }

  /// A tumour killed below one cell is removed by the extinction event and stays at zero.
  @Test func tumourExtinctionEvent() throws {
    var m = HEROSModel()
    try m.parameters.set("gamma_B", to: 50)
    try m.parameters.set("xi_kill", to: 1e-6)
    try m.parameters.set("f_L0", to: 0)
    let inf = CARTInfusion(day: 0, dose: 1e9, basis: .carTCellsPerM2)
    let sol = run(m, Regimen(infusions: [inf]), end: 200, times: [100, 200])
    let hit = sol.eventLog.first { $0.label == "tumour extinct" }
    #expect(hit != nil)
    #expect(sol[0, HEROSModel.S.SH] == 0 && sol[1, HEROSModel.S.SH] == 0)
    #expect(sol[1, HEROSModel.S.SL] == 0)
  }
}
