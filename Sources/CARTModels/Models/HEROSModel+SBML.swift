import Foundation
import ODEKit
import SBMLDocument

extension TherapyModel {
  /// Doses of a regimen as SBML events: boluses add to the state; a zero-order infusion
  /// switches an input-rate parameter `in_<state>` on and off. Triggers are `time ≥ t`
  /// with `initialValue = false` (so a dose at the start fires there); priorities keep the
  /// integrator's order at a shared time: infusion ends (3), time events (2), doses (1).
  func sbmlDoseEvents(_ doses: [Dose], stateNames: [String], offset: Double) -> (events: [SBMLModel.Event], inputs: Set<Int>) {
    var events: [SBMLModel.Event] = []
    var inputs = Set<Int>()
    for (k, d) in doses.flatMap(\.administrations).enumerated() {
      let x = stateNames[d.target]
      let time = d.time - offset
      if d.duration > 0 {
        inputs.insert(d.target)
        let rate = d.amount / d.duration
        events.append(
          SBMLModel.Event(
            id: "dose\(k)_start", trigger: .greaterEqual(.time, .number(time)), initialValue: false,
            priority: 1, assignments: [("in_\(x)", .symbol("in_\(x)") + .number(rate))]))
        events.append(
          SBMLModel.Event(
            id: "dose\(k)_end", trigger: .greaterEqual(.time, .number(time + d.duration)), initialValue: false,
            priority: 3, assignments: [("in_\(x)", .symbol("in_\(x)") - .number(rate))]))
      } else {
        events.append(
          SBMLModel.Event(
            id: "dose\(k)", trigger: .greaterEqual(.time, .number(time)), initialValue: false,
            priority: 1, assignments: [(x, .symbol(x) + .number(d.amount))]))
      }
    }
    return (events, inputs)
  }

  /// Parameters of the table as SBML parameters with unit, source and evidence in notes.
  func sbmlParameters() -> [SBMLModel.Parameter] {
    parameters.table.map {
      SBMLModel.Parameter(
        id: $0.name, value: $0.value, constant: true,
        notes: "\($0.description). Unit: \($0.unit). Evidence: \($0.evidence.rawValue). Source: \($0.source).")
    }
  }
}

extension HEROSModel {
  /// The model, a patient and a regimen as an SBML Level 3 Version 2 document: the 17
  /// states are parameters with rate rules, the algebraic quantities assignment rules,
  /// the patient-specific constants initial assignments from the parameter table, and the
  /// regimen's doses, lymphodepletion resets and extinction rules events.
  public func sbml(patient: Patient, regimen: Regimen, start: Double, end: Double) -> SBMLModel {
    let mp = makeProblem(patient: patient, regimen: regimen, start: start, end: end)
    var m = SBMLModel(level: 3, version: 2)
    m.id = "heros"
    m.name = "CARTSim HEROS model (HER2-CAR T in sarcoma)"
    m.notes =
      title
      + ". Exported by CARTSim; equations in Guides/Models/HEROS.md. Time in days, cells as whole-body numbers, drugs in mg. SBML time 0 is day \(start) of the scenario (day 0 = first CAR T infusion)."
    m.compartments = [SBMLModel.Compartment(id: "body", size: 1)]
    m.parameters = sbmlParameters()
    // Patient covariates.
    m.parameters += [
      SBMLModel.Parameter(id: "WT", value: patient.weightKg, constant: true, notes: "Body weight. Unit: kg."),
      SBMLModel.Parameter(id: "BSA", value: patient.bsa, constant: true, notes: "Body surface area (Mosteller). Unit: m2."),
      SBMLModel.Parameter(
        id: "HER2", value: patient.her2Level, constant: true, notes: "HER2 level relative to a typical HER2+ sarcoma. Unit: 1."),
    ]
    // Patient-specific constants, as in HEROSSystem.init.
    let s: Expr = .symbol("WT") / 70
    let ws: Expr = .symbol("WT") / 76.8
    let derived: [(String, Expr)] = [
      ("V1", "V1_flu" * s),
      ("k10", 24 * "CL_flu" * .pow(s, 0.75) / ("V1_flu" * s)),
      ("k12", 24 * "Q2_flu" * .pow(s, 0.75) / ("V1_flu" * s)),
      ("k21", 24 * "Q2_flu" * .pow(s, 0.75) / ("V2_flu" * s)),
      ("k13", 24 * "Q3_flu" * .pow(s, 0.75) / ("V1_flu" * s)),
      ("k31", 24 * "Q3_flu" * .pow(s, 0.75) / ("V3_flu" * s)),
      ("Vcy", "V_cy" * .pow(.symbol("BSA") / 1.58, 0.861)),
      ("kcy", 24 * "CL_cy" / ("V_cy" * .pow(.symbol("BSA") / 1.58, 0.861))),
      ("VcP", "Vc_pem" * .pow(ws, 0.489)),
      ("kelP", "CL_pem" * .pow(ws, 0.595) / ("Vc_pem" * .pow(ws, 0.489))),
      ("k12P", "Q_pem" * .pow(ws, 0.595) / ("Vc_pem" * .pow(ws, 0.489))),
      ("k21P", "Q_pem" * .pow(ws, 0.595) / ("Vp_pem" * .pow(ws, 0.489))),
      ("KNs", "K_N" * s),
      ("KCs", "K_C" * s),
      ("gAg", .piecewise([0, .lessEqual("HER2", 0)], .pow("HER2", "n_H") / (.pow("HER2", "n_H") + .pow("D50", "n_H")))),
    ]
    for (id, e) in derived {
      m.parameters.append(SBMLModel.Parameter(id: id, value: nil, constant: true))
      m.initialAssignments.append((id, e))
    }
    // States.
    let names = stateNames
    for (i, n) in names.enumerated() {
      m.parameters.append(SBMLModel.Parameter(id: n, value: mp.problem.u0[i], constant: false, notes: "State. Unit: \(stateUnits[i])."))
    }
    func hill(_ x: Expr, _ k: Expr, _ n: Expr) -> Expr {
      .piecewise([0, .lessEqual(x, 0)], .pow(x / k, n) / (1 + .pow(x / k, n)))
    }
    let rules: [(String, Expr)] = [
      ("cFlu", 1000 * "F1" / "V1"),
      ("cCy", "CY" / "Vcy"),
      ("cPem", "P1" / "VcP"),
      ("L", .max("N" + "E_B" + "M_B", 1)),
      ("rC", "rho_C" + "b_C" * ("L" - "KNs") * ("L" - "KNs") / ("a_C" * "L" * "L" + ("L" - "KNs") * ("L" - "KNs"))),
      ("hm", -("rC" * .ln("L" / "KCs"))),
      ("ldKill", "kmax_flu" * "cFlu" / ("EC50_flu" + "cFlu") + "kmax_cy" * "cCy" / ("EC50_cy" + "cCy")),
      ("occ", "cPem" / ("cPem" + "EC50_pd1")),
      ("phiPD", 1 - "Imax_PD" * (1 - "occ")),
      ("fB", "S_H" / ("S_H" + "h_B")),
      ("killPerCell", "gamma_B" * "gAg" * "phiPD" * "E_T" / ("xi_kill" * ("S_H" + "S_L") + "E_T" + 1)),
      ("kill", "killPerCell" * "S_H"),
      ("s1", hill("Fi", "Fi_1", "n_F")),
      ("s2", hill("Fi", "Fi_2", "n_F")),
      ("rescue", "g2" * (1 - "s1") + "pd1_max" * "occ"),
      ("lymphLoss", "ldKill" + "K_LC" * "CH"),
      ("carLoss", "ld_car_sensitivity" * "ldKill" + "K_LC" * "CH"),
      ("growth", "r_T" * (1 - ("S_H" + "S_L") / "K_T")),
      ("activation", ("E_T" / 1e9) * "gAg" * "fB"),
    ]
    for (id, e) in rules {
      m.parameters.append(SBMLModel.Parameter(id: id, value: nil, constant: false))
      m.rules.append(.assignment(variable: id, math: e))
    }
    var rates: [String: Expr] = [
      "F1": -("k10" + "k12" + "k13") * "F1" + "k21" * "F2" + "k31" * "F3",
      "F2": "k12" * "F1" - "k21" * "F2",
      "F3": "k13" * "F1" - "k31" * "F3",
      "CY": -("kcy" * "CY"),
      "P1": -("kelP" + "k12P") * "P1" + "k21P" * "P2",
      "P2": "k12P" * "P1" - "k21P" * "P2",
      "CH": -("gamma_CH" * "CH"),
      "N": -("r_N" * "N" * .ln("L" / "KNs")) - "lymphLoss" * "N",
      "E_B": "hm" * "E_B" - "d_E" * "E_B" - "k_in" * "phi_inf" * "E_B" + "k_out" * "E_T" - "a_E" * (1 - "fB") * "E_B"
        + "a_M" * "fB" * "M_B" - "carLoss" * "E_B",
      "M_B": "hm" * "M_B" - "d_M" * "M_B" + "a_E" * (1 - "fB") * "E_B" - "a_M" * "fB" * "M_B" - "carLoss" * "M_B",
      "E_T": "k_in" * "phi_inf" * "E_B" - "k_out" * "E_T" + "rho_Ag" * "gAg" * "phiPD" * "fB" * "E_T" - "g1" * "s1" * "E_T"
        + "rescue" * "X_R" - "d_ET" * "E_T",
      "X_R": "g1" * "s1" * "E_T" - "rescue" * "X_R" - "g3" * "s2" * "X_R" - "d_X" * "X_R",
      "X_T": "g3" * "s2" * "X_R" - "d_XT" * "X_T",
      "S_H": "growth" * "S_H" - "kill" - "mu_esc" * "S_H" + "mu_rev" * "S_L" - "K_TC" * "CH" * "S_H",
      "S_L": "growth" * "S_L" + "mu_esc" * "S_H" - "mu_rev" * "S_L" - "K_TC" * "CH" * "S_L" - "theta_L" * "killPerCell" * "S_L",
      "Fi": "b_F" * "kill" / "kill_scale" - "d_F" * "Fi",
      "IL6": "k_IL6" * ("IL6_0" - "IL6") + "P_IL6" * hill("activation", "A50_IL6", "n_IL6"),
    ]
    let (doseEvents, inputs) = sbmlDoseEvents(mp.problem.doses, stateNames: names, offset: start)
    for i in inputs.sorted() {
      m.parameters.append(SBMLModel.Parameter(id: "in_\(names[i])", value: 0, constant: false, notes: "Zero-order input. Unit: mg/d."))
      rates[names[i]] = rates[names[i]]! + .symbol("in_\(names[i])")
    }
    for n in names { m.rules.append(.rate(variable: n, math: rates[n]!)) }
    m.events = doseEvents
    // Simplified lymphodepletion resets, as in makeProblem.
    if let ld = regimen.lymphodepletion, ld.mode == .simplified {
      let nLD: Expr = (ld.includesCyclophosphamide ? "N_LD_flu_cy" : "N_LD_flu") * s
      for (i, inf) in regimen.infusions.enumerated() where inf.lymphodepleted {
        m.events.append(
          SBMLModel.Event(
            id: "ld_reset\(i + 1)", trigger: .greaterEqual(.time, .number(inf.day - start)), initialValue: false, priority: 2,
            assignments: [("N", .min("N", nLD)), ("E_B", "E_B" * "s_LD"), ("M_B", "M_B" * "s_LD")]))
      }
    }
    // Extinction below `extinction_cells`.
    m.events.append(
      SBMLModel.Event(
        id: "tumour_extinct", trigger: .less("S_H" + "S_L", "extinction_cells"), priority: 0,
        assignments: [("S_H", 0), ("S_L", 0)]))
    m.events.append(
      SBMLModel.Event(
        id: "car_t_extinct", trigger: .less("E_B" + "M_B" + "E_T" + "X_R" + "X_T", "extinction_cells"),
        priority: 0, assignments: ["E_B", "M_B", "E_T", "X_R", "X_T"].map { ($0, Expr.number(0)) }))
    // Washout of the lymphodepleting drugs, as in makeProblem.
    let pkDoses = mp.problem.doses
    if pkDoses.contains(where: { $0.target == S.F1 }) {
      m.events.append(
        SBMLModel.Event(
          id: "fludarabine_washout", trigger: .less("F1" + "F2" + "F3", "LD_washout" * "EC50_flu" * "V1" / 1000), priority: 0,
          assignments: ["F1", "F2", "F3"].map { ($0, Expr.number(0)) }))
    }
    if pkDoses.contains(where: { $0.target == S.CY }) {
      m.events.append(
        SBMLModel.Event(
          id: "cyclophosphamide_washout", trigger: .less("CY", "LD_washout" * "EC50_cy" * "Vcy"), priority: 0,
          assignments: [("CY", Expr.number(0))]))
    }
    return m
  }
}

extension CARTmathModel {
  /// The model and a regimen as SBML L3V2: three species (cells) in a unit compartment with
  /// mass-action reactions as in BIOMD0000001019/1020, doses and the rechallenge as events.
  public func sbml(patient: Patient, regimen: Regimen, start: Double, end: Double) -> SBMLModel {
    let mp = makeProblem(patient: patient, regimen: regimen, start: start, end: end)
    var m = SBMLModel(level: 3, version: 2)
    m.id = id.replacingOccurrences(of: "-", with: "_")
    m.name = title
    m.compartments = [SBMLModel.Compartment(id: "compartment", size: 1)]
    m.parameters = sbmlParameters()
    m.species = zip(["C_T", "C_M", "T"], mp.problem.u0).map {
      SBMLModel.Species(
        id: $0, compartment: "compartment", initialAmount: $1, initialConcentration: nil,
        hasOnlySubstanceUnits: true, boundaryCondition: false, constant: false, conversionFactor: nil)
    }
    func ref(_ s: String) -> SBMLModel.SpeciesReference {
      .init(species: s, id: nil, stoichiometry: 1, constant: true, stoichiometryMath: nil)
    }
    func reaction(_ id: String, _ r: [String], _ p: [String], _ law: Expr) -> SBMLModel.Reaction {
      .init(id: id, reactants: r.map(ref), products: p.map(ref), kineticLaw: law, localParameters: [:], fast: false)
    }
    m.reactions = [
      reaction("expansion", [], ["C_T"], "phi" * "C_T"),
      reaction("effector_death", ["C_T"], [], "rho" * "C_T"),
      reaction("memory_activation", ["C_M"], ["C_T"], "theta" * "T" * "C_M"),
      reaction("effector_inhibition", ["C_T"], [], "alpha" * "T" * "C_T"),
      reaction("memory_formation", [], ["C_M"], "epsilon" * "C_T"),
      reaction("memory_death", ["C_M"], [], "mu" * "C_M"),
      reaction("tumour_growth", [], ["T"], "r" * "T" * (1 - "b" * "T")),
      reaction("killing", ["T"], [], "gamma" * "C_T" * "T"),
    ]
    m.events = sbmlDoseEvents(mp.problem.doses, stateNames: ["C_T", "C_M", "T"], offset: start).events
    if parameters["rechallenge_day"] > 0 {
      m.events.append(
        SBMLModel.Event(
          id: "rechallenge", trigger: .greaterEqual(.time, "rechallenge_day" - .number(start)), initialValue: false,
          priority: 2, assignments: [("T", "rechallenge_cells")]))
    }
    return m
  }
}
