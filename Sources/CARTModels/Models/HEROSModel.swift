import ODEKit
import RealModule

/// The consolidated HER2-CAR T sarcoma model (HEROS): lymphocyte competition after
/// lymphodepletion, effector/memory CAR T cells in blood, functional and exhausted CAR T
/// cells at the tumour, HER2-high and HER2-low tumour cells, fludarabine,
/// cyclophosphamide and pembrolizumab PK, an optional chemotherapy effect, an
/// inflammation driver and IL-6. Time in days; cells are whole-body numbers; drug
/// amounts in mg.
///
/// Equations, units and the calibration are documented in `Guides/Models/HEROS.md`;
/// structure after `reference/car-t-models.md` §9 (Kimmel 2021, Hardiansyah & Ng 2019,
/// Singh 2021, Kareva & Gevertz, Varela 2025, Ahmed 2020, Ahamadi 2017).
public struct HEROSModel: TherapyModel {
  public var id: String { "heros" }
  public var title: String {
    "HER2-CAR T in sarcoma: lymphodepletion, competition, exhaustion, PD-1 blockade, IL-6 (CARTSim consolidated model, 17 states)"
  }
  public var parameters = ParameterSet(model: "heros", HEROSModel.defaultParameters)

  public init() {}

  /// State order of the system.
  public enum S {
    public static let F1 = 0, F2 = 1, F3 = 2, CY = 3, P1 = 4, P2 = 5, CH = 6, N = 7, EB = 8, MB = 9,
      ET = 10, XR = 11, XT = 12, SH = 13, SL = 14, Fi = 15, IL6 = 16
  }

  public var stateNames: [String] {
    ["F1", "F2", "F3", "CY", "P1", "P2", "CH", "N", "E_B", "M_B", "E_T", "X_R", "X_T", "S_H", "S_L", "Fi", "IL6"]
  }
  public var stateUnits: [String] {
    [
      "mg", "mg", "mg", "mg", "mg", "mg", "effect", "cells", "cells", "cells", "cells", "cells", "cells", "cells",
      "cells", "1", "pg/mL",
    ]
  }

  public var observables: [Observable] {
    [
      Observable("car_t_blood", "cells/uL", "CAR T cells (effector + memory) per µL of blood"),
      Observable("car_t_transgene", "copies/ug DNA", "CAR transgene copies per µg of blood DNA (qPCR)"),
      Observable("alc", "cells/uL", "absolute lymphocyte count (normal + CAR T) in blood"),
      Observable("car_t_tumour", "cells", "CAR T cells at the tumour (functional + exhausted)"),
      Observable("tumour_cells", "cells", "tumour cells (HER2-high + HER2-low)"),
      Observable("sld", "mm", "RECIST sum of longest diameters"),
      Observable("il6", "pg/mL", "serum IL-6"),
      Observable("crs_grade_proxy", "grade", "CRS grade proxy from IL-6 (0–4)"),
      Observable("fludarabine", "ng/mL", "plasma F-ara-A"),
      Observable("cyclophosphamide", "ug/mL", "plasma cyclophosphamide"),
      Observable("pembrolizumab", "ug/mL", "serum pembrolizumab"),
      Observable("pd1_occupancy", "1", "PD-1 receptor occupancy"),
    ]
  }

  // MARK: Problem

  public func makeProblem(patient: Patient, regimen: Regimen, start: Double, end: Double) -> ModelProblem<HEROSSystem> {
    let p = parameters
    let sys = HEROSSystem(p, patient: patient)
    var u0 = [Double](repeating: 0, count: 17)
    u0[S.N] = sys.KN
    let cells = tumourCells(sld: patient.baselineSLDmm)
    u0[S.SH] = cells * (1 - p["f_L0"])
    u0[S.SL] = cells * p["f_L0"]
    u0[S.IL6] = p["IL6_0"]

    var doses: [Dose] = []
    var timeEvents: [TimeEvent] = []
    for (i, inf) in regimen.infusions.enumerated() {
      let car = inf.carPositiveCells(for: patient)
      let label = "CAR T infusion \(i + 1)"
      doses.append(Dose(time: inf.day, target: S.EB, amount: car * (1 - inf.memoryFraction), label: label))
      doses.append(Dose(time: inf.day, target: S.MB, amount: car * inf.memoryFraction, label: label + " (memory)"))
      guard inf.lymphodepleted, let ld = regimen.lymphodepletion else { continue }
      switch ld.mode {
      case .pk:
        for a in ld.agents where a.mgPerM2 > 0 {
          let (target, factor) = a.drug == .fludarabine ? (S.F1, p["flu_salt_factor"]) : (S.CY, 1.0)
          let label = "\(a.drug.rawValue) \(formatNumber(a.mgPerM2)) mg/m²"
          for d in a.days {
            doses.append(
              Dose(
                time: inf.day + d, target: target, amount: a.mgPerM2 * patient.bsa * factor,
                duration: a.infusionDays, label: label))
          }
        }
      case .simplified:
        let nLD = (ld.includesCyclophosphamide ? p["N_LD_flu_cy"] : p["N_LD_flu"]) * sys.sizeScale
        let survival = p["s_LD"]
        timeEvents.append(
          TimeEvent(time: inf.day, label: "lymphodepletion (simplified)") { _, u in
            u[S.N] = min(u[S.N], nLD)
            u[S.EB] *= survival
            u[S.MB] *= survival
          })
      }
    }
    if let c = regimen.checkpoint, c.count > 0 {
      doses.append(
        Dose(
          time: c.startDay, target: S.P1, amount: c.doseMg(for: patient), duration: c.infusionDays,
          interval: c.everyDays, additional: c.count - 1, label: c.drug))
    }
    for c in regimen.chemotherapy {
      doses.append(Dose(time: c.day, target: S.CH, amount: c.effect, label: "chemotherapy"))
    }
    let extinct = p["extinction_cells"]
    var stateEvents = [
      StateEvent(label: "tumour extinct", direction: .down, condition: { _, u in u[S.SH] + u[S.SL] - extinct }) { _, u in
        u[S.SH] = 0
        u[S.SL] = 0
        return .continue
      },
      StateEvent(
        label: "CAR T extinct", direction: .down,
        condition: { _, u in u[S.EB] + u[S.MB] + u[S.ET] + u[S.XR] + u[S.XT] - extinct }
      ) { _, u in
        for i in [S.EB, S.MB, S.ET, S.XR, S.XT] { u[i] = 0 }
        return .continue
      },
    ]
    // Washout: a lymphodepleting drug below `LD_washout` of its EC50 is set to zero. Its
    // kill rate is then under 1e-9 of its maximum; left in place, fludarabine's fast
    // distribution mode (about −14/d) would pin explicit steps at its stability bound for
    // months after the last dose.
    let washout = p["LD_washout"]
    if doses.contains(where: { $0.target == S.F1 }) {
      let threshold = washout * p["EC50_flu"] * sys.V1 / 1000  // mg: ng/mL × L / 1000
      stateEvents.append(
        StateEvent(label: "fludarabine washed out", direction: .down, condition: { _, u in u[S.F1] + u[S.F2] + u[S.F3] - threshold }) {
          _, u in
          for i in [S.F1, S.F2, S.F3] { u[i] = 0 }
          return .continue
        })
    }
    if doses.contains(where: { $0.target == S.CY }) {
      let threshold = washout * p["EC50_cy"] * sys.Vcy  // mg: µg/mL × L
      stateEvents.append(
        StateEvent(label: "cyclophosphamide washed out", direction: .down, condition: { _, u in u[S.CY] - threshold }) { _, u in
          u[S.CY] = 0
          return .continue
        })
    }
    var atol = [Double](repeating: 1e-3, count: 17)  // cells: a thousandth of a cell
    for i in [S.F1, S.F2, S.F3, S.CY, S.P1, S.P2] { atol[i] = 1e-8 }  // mg
    atol[S.CH] = 1e-8
    atol[S.Fi] = 1e-8
    atol[S.IL6] = 1e-6
    return ModelProblem(
      problem: ODEProblem(
        system: sys, u0: u0, tspan: (start, end), doses: doses, timeEvents: timeEvents,
        stateEvents: stateEvents),
      absoluteTolerances: atol, nonNegative: Array(0..<17))
  }

  // MARK: Observables

  /// Tumour cells for a sum of longest diameters: `nLesions` equal spheres,
  /// `V = π/6 · d³`, `cellsPerCm3` cells per cm³.
  public func tumourCells(sld: Double) -> Double {
    let n = parameters["n_lesions"]
    let dCm = sld / n / 10
    return n * Double.pi / 6 * dCm * dCm * dCm * parameters["cells_per_cm3"]
  }

  /// Inverse of ``tumourCells(sld:)``.
  public func sld(cells: Double) -> Double {
    HEROSModel.sld(cells: cells, lesions: parameters["n_lesions"], cellsPerCm3: parameters["cells_per_cm3"])
  }

  static func sld(cells: Double, lesions n: Double, cellsPerCm3: Double) -> Double {
    guard cells > 0 else { return 0 }
    let v = cells / cellsPerCm3 / n
    return n * 10 * Double.root(6 * v / Double.pi, 3)
  }

  /// CRS grade proxy from IL-6 (pg/mL): the number of thresholds reached.
  public func crsGrade(il6: Double) -> Int {
    HEROSModel.crsGrade(il6: il6, thresholds: (1...4).map { parameters["IL6_grade\($0)"] })
  }

  static func crsGrade(il6: Double, thresholds: [Double]) -> Int {
    var g = 0
    for (k, threshold) in thresholds.enumerated() where il6 >= threshold { g = k + 1 }
    return g
  }

  public func observer(patient: Patient) -> @Sendable (ArraySlice<Double>) -> [Double] {
    let p = parameters
    let bloodUL = p["blood_volume_mL_per_kg"] * patient.weightKg * 1000
    let fBlood = p["f_blood"]
    let vcn = p["vcn"], nucleated = p["nucleated_cells_per_uL"], cellsPerUg = 1e6 / p["dna_pg_per_cell"]
    let vFlu = p["V1_flu"] * (patient.weightKg / 70)
    let vCy = p["V_cy"] * Double.pow(patient.bsa / 1.58, 0.861)
    let vPem = p["Vc_pem"] * Double.pow(patient.weightKg / 76.8, 0.489)
    let ec50 = p["EC50_pd1"]
    let grades = (1...4).map { p["IL6_grade\($0)"] }
    let lesions = p["n_lesions"], cellsPerCm3 = p["cells_per_cm3"]
    return { u in
      let b = u.startIndex
      let carBlood = fBlood * (u[b + S.EB] + u[b + S.MB]) / bloodUL
      let copies = carBlood * vcn / nucleated * cellsPerUg
      let alc = fBlood * (u[b + S.N] + u[b + S.EB] + u[b + S.MB]) / bloodUL
      let flu = 1000 * u[b + S.F1] / vFlu
      let cy = u[b + S.CY] / vCy
      let pem = u[b + S.P1] / vPem
      let occ = pem / (pem + ec50)
      let tumour = u[b + S.SH] + u[b + S.SL]
      let il6 = u[b + S.IL6]
      return [
        carBlood, copies, alc, u[b + S.ET] + u[b + S.XR] + u[b + S.XT], tumour,
        HEROSModel.sld(cells: tumour, lesions: lesions, cellsPerCm3: cellsPerCm3),
        il6, Double(HEROSModel.crsGrade(il6: il6, thresholds: grades)), flu, cy, pem, occ,
      ]
    }
  }
}

/// The right-hand side of ``HEROSModel`` for one patient: parameters resolved to fields.
///
/// A class with only constants, so a value: the solver passes it by reference. (As a struct
/// of 536 bytes it was copied onto the stack for every right-hand side, since the state
/// pointers it is called with could alias it.)
public final class HEROSSystem: ODESystem, Sendable {
  public let dimension = 17
  public var isAutonomous: Bool { true }
  typealias S = HEROSModel.S

  // PK (1/d, L).
  let k10, k12, k21, k13, k31, V1: Double
  let kcy, Vcy: Double
  let kelP, k12P, k21P, VcP: Double
  let gammaCH, KTC, KLC: Double
  // Lymphocytes and CAR T.
  let rN, KN, KC, rhoC, aC, bC: Double
  /// log K_N and log K_C: the homeostatic terms take one logarithm, of L.
  let lnKN, lnKC: Double
  let kmaxFlu, ec50Flu, kmaxCy, ec50Cy, ldCAR: Double
  let dE, dM, aE, aM, hB, kin, kout, phiInf, rhoAg, dET: Double
  let g1, g2, g3, dX, dXT, F1, F2, nF, bF, dF, killScale: Double
  let ec50PD1, imaxPD, pd1Max: Double
  let gAg, gammaB, xiKill, thetaL, rT, KT, muEsc, muRev: Double
  let kIL6, IL60, pIL6, a50IL6, nIL6: Double
  /// Body-size scale of whole-body lymphocyte numbers (weight / 70 kg).
  public let sizeScale: Double

  init(_ p: ParameterSet, patient: Patient) {
    let w = patient.weightKg
    let s = w / 70
    sizeScale = s
    // Fludarabine (Varela 2025): L/h at 70 kg → per day.
    let clF = p["CL_flu"] * Double.pow(s, 0.75), q2 = p["Q2_flu"] * Double.pow(s, 0.75), q3 = p["Q3_flu"] * Double.pow(s, 0.75)
    V1 = p["V1_flu"] * s
    let v2 = p["V2_flu"] * s, v3 = p["V3_flu"] * s
    k10 = 24 * clF / V1
    k12 = 24 * q2 / V1
    k21 = 24 * q2 / v2
    k13 = 24 * q3 / V1
    k31 = 24 * q3 / v3
    // Cyclophosphamide (Ahmed 2020).
    Vcy = p["V_cy"] * Double.pow(patient.bsa / 1.58, 0.861)
    kcy = 24 * p["CL_cy"] / Vcy
    // Pembrolizumab (Ahamadi 2017), L/d at 76.8 kg.
    let ws = w / 76.8
    VcP = p["Vc_pem"] * Double.pow(ws, 0.489)
    let vp = p["Vp_pem"] * Double.pow(ws, 0.489)
    let cl = p["CL_pem"] * Double.pow(ws, 0.595), q = p["Q_pem"] * Double.pow(ws, 0.595)
    kelP = cl / VcP
    k12P = q / VcP
    k21P = q / vp
    gammaCH = p["gamma_CH"]
    KTC = p["K_TC"]
    KLC = p["K_LC"]
    rN = p["r_N"]
    KN = p["K_N"] * s
    KC = p["K_C"] * s
    lnKN = Double.log(KN)
    lnKC = Double.log(KC)
    rhoC = p["rho_C"]
    aC = p["a_C"]
    bC = p["b_C"]
    kmaxFlu = p["kmax_flu"]
    ec50Flu = p["EC50_flu"]
    kmaxCy = p["kmax_cy"]
    ec50Cy = p["EC50_cy"]
    ldCAR = p["ld_car_sensitivity"]
    dE = p["d_E"]
    dM = p["d_M"]
    aE = p["a_E"]
    aM = p["a_M"]
    hB = p["h_B"]
    kin = p["k_in"]
    kout = p["k_out"]
    phiInf = p["phi_inf"]
    rhoAg = p["rho_Ag"]
    dET = p["d_ET"]
    g1 = p["g1"]
    g2 = p["g2"]
    g3 = p["g3"]
    dX = p["d_X"]
    dXT = p["d_XT"]
    F1 = p["Fi_1"]
    F2 = p["Fi_2"]
    nF = p["n_F"]
    bF = p["b_F"]
    dF = p["d_F"]
    killScale = p["kill_scale"]
    ec50PD1 = p["EC50_pd1"]
    imaxPD = p["Imax_PD"]
    pd1Max = p["pd1_max"]
    let d = patient.her2Level, nH = p["n_H"], d50 = p["D50"]
    gAg = d <= 0 ? 0 : Double.pow(d, nH) / (Double.pow(d, nH) + Double.pow(d50, nH))
    gammaB = p["gamma_B"]
    xiKill = p["xi_kill"]
    thetaL = p["theta_L"]
    rT = p["r_T"]
    KT = p["K_T"]
    muEsc = p["mu_esc"]
    muRev = p["mu_rev"]
    kIL6 = p["k_IL6"]
    IL60 = p["IL6_0"]
    pIL6 = p["P_IL6"]
    a50IL6 = p["A50_IL6"]
    nIL6 = p["n_IL6"]
  }

  @inlinable @inline(__always)
  func hill(_ x: Double, _ k: Double, _ n: Double) -> Double {
    if x <= 0 { return 0 }
    let r = x / k
    // Whole exponents (the exhaustion switches' 4) are multiplied out, as the SBML compiler
    // does: correctly rounded products where libm's pow is within about half an ulp, at a
    // fraction of its cost (pow was a fifth of a trial's time).
    let xn: Double
    switch n {
    case 1: xn = r
    case 2: xn = r * r
    case 3: xn = r * r * r
    case 4:
      let square = r * r
      xn = square * square
    default: xn = Double.pow(r, n)
    }
    return xn / (1 + xn)
  }

  public func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    let f1 = u[S.F1], f2 = u[S.F2], f3 = u[S.F3], cyA = u[S.CY], p1 = u[S.P1], p2 = u[S.P2], ch = u[S.CH]
    let n = u[S.N], eb = u[S.EB], mb = u[S.MB], et = u[S.ET], xr = u[S.XR], xt = u[S.XT]
    let sh = u[S.SH], sl = u[S.SL], fi = u[S.Fi], il6 = u[S.IL6]

    let cFlu = 1000 * f1 / V1  // ng/mL
    let cCy = cyA / Vcy  // µg/mL
    let cPem = p1 / VcP  // µg/mL
    // Homeostatic competition (Kimmel 2021); logarithms floored at one cell.
    let L = max(n + eb + mb, 1)
    let dev = L - KN
    let rC = rhoC + bC * dev * dev / (aC * L * L + dev * dev)
    let lnL = Double.log(L)
    let hm = -rC * (lnL - lnKC)
    let ldKill = kmaxFlu * cFlu / (ec50Flu + cFlu) + kmaxCy * cCy / (ec50Cy + cCy)
    let chT = KTC * ch, chL = KLC * ch
    let occ = cPem / (cPem + ec50PD1)
    let phiPD = 1 - imaxPD * (1 - occ)
    let fB = sh / (sh + hB)
    // Ratio-dependent killing (Kareva & Gevertz; de Pillis 2005): saturates in the E:T ratio,
    // so a shrinking tumour meets a rising ratio and can be eradicated.
    let killPerCell = gammaB * gAg * phiPD * et / (xiKill * (sh + sl) + et + 1)
    let kill = killPerCell * sh
    let s1 = hill(fi, F1, nF), s2 = hill(fi, F2, nF)
    let rescue = g2 * (1 - s1) + pd1Max * occ
    let lymphLoss = ldKill + chL
    let carLoss = ldCAR * ldKill + chL

    du[S.F1] = -(k10 + k12 + k13) * f1 + k21 * f2 + k31 * f3
    du[S.F2] = k12 * f1 - k21 * f2
    du[S.F3] = k13 * f1 - k31 * f3
    du[S.CY] = -kcy * cyA
    du[S.P1] = -(kelP + k12P) * p1 + k21P * p2
    du[S.P2] = k12P * p1 - k21P * p2
    du[S.CH] = -gammaCH * ch
    du[S.N] = -rN * n * (lnL - lnKN) - lymphLoss * n
    du[S.EB] = hm * eb - dE * eb - kin * phiInf * eb + kout * et - aE * (1 - fB) * eb + aM * fB * mb - carLoss * eb
    du[S.MB] = hm * mb - dM * mb + aE * (1 - fB) * eb - aM * fB * mb - carLoss * mb
    du[S.ET] = kin * phiInf * eb - kout * et + rhoAg * gAg * phiPD * fB * et - g1 * s1 * et + rescue * xr - dET * et
    du[S.XR] = g1 * s1 * et - rescue * xr - g3 * s2 * xr - dX * xr
    du[S.XT] = g3 * s2 * xr - dXT * xt
    let growth = rT * (1 - (sh + sl) / KT)
    du[S.SH] = growth * sh - kill - muEsc * sh + muRev * sl - chT * sh
    du[S.SL] = growth * sl + muEsc * sh - muRev * sl - chT * sl - thetaL * killPerCell * sl
    du[S.Fi] = bF * kill / killScale - dF * fi
    // CAR T cells engaged on HER2+ tumour (1e9 cells: tumour-site CAR T × antigen signal ×
    // burden saturation) drive IL-6 with a Hill amplification (myeloid cells).
    let activation = (et / 1e9) * gAg * fB
    du[S.IL6] = kIL6 * (IL60 - il6) + pIL6 * hill(activation, a50IL6, nIL6)
  }
}
