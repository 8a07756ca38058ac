import ODEKit

/// CARTmath (Barros et al. 2021, Cancers 13(12):2941, doi:10.3390/cancers13122941):
/// effector CAR T cells `C_T`, memory CAR T cells `C_M` and tumour cells `T` in NSG mice.
///
/// ```
/// dC_T/dt = φ C_T − ρ C_T + θ T C_M − α T C_T
/// dC_M/dt = ε C_T − θ T C_M − μ C_M
/// dT/dt   = r T (1 − b T) − γ C_T T
/// ```
/// Two published parameter sets: HDLM-2 (BioModels BIOMD0000001019) and Raji
/// (BIOMD0000001020). The SBML names ρ `pi` and r `rho`.
public struct CARTmathModel: TherapyModel {
  public enum Variant: String, Sendable, CaseIterable {
    case hdlm2, raji
  }
  public let variant: Variant
  public var parameters: ParameterSet

  public init(_ variant: Variant) {
    self.variant = variant
    self.parameters = ParameterSet(model: "cartmath-\(variant.rawValue)", Self.table(variant))
  }

  public var id: String { "cartmath-\(variant.rawValue)" }
  public var title: String {
    switch variant {
    case .hdlm2: return "CARTmath, HDLM-2 (Hodgkin lymphoma) parameter set — Barros et al. 2021, BIOMD0000001019"
    case .raji: return "CARTmath, Raji (CD19+ lymphoma) parameter set — Barros et al. 2021, BIOMD0000001020"
    }
  }
  public var stateNames: [String] { ["C_T", "C_M", "T"] }
  public var stateUnits: [String] { ["cells", "cells", "cells"] }
  public var observables: [Observable] {
    [Observable("car_t_total", "cells", "effector + memory CAR T cells"), Observable("tumour_cells", "cells", "tumour cells")]
  }

  static func table(_ v: Variant) -> [ParameterInfo] {
    let src = v == .hdlm2 ? "Barros et al. 2021; BIOMD0000001019" : "Barros et al. 2021; BIOMD0000001020"
    let h = v == .hdlm2
    return [
      ParameterInfo("phi", h ? 0.265 : 0.83, "1/d", .verified, src, "effector expansion rate"),
      ParameterInfo("rho", h ? 0.35 : 0.8300536, "1/d", .verified, src + " (SBML id 'pi')", "effector death rate"),
      ParameterInfo("epsilon", h ? 0.15 : 1.59795, "1/d", .verified, src, "memory formation rate"),
      ParameterInfo("theta", h ? 6.0e-6 : 2.3e-4, "1/(cell·d)", .verified, src, "memory → effector on antigen contact"),
      ParameterInfo("alpha", h ? 4.5e-8 : 1.248506e-8, "1/(cell·d)", .verified, src, "tumour inhibition of effectors"),
      ParameterInfo("mu", h ? 5.0e-3 : 6.89e-7, "1/d", .verified, src, "memory death rate"),
      ParameterInfo("r", h ? 0.05650026 : 0.5071721, "1/d", .verified, src + " (SBML id 'rho')", "tumour growth rate"),
      ParameterInfo("b", h ? 1.404029e-12 : 0, "1/cell", .verified, src + " (SBML id 'beta')", "inverse tumour carrying capacity"),
      ParameterInfo("gamma", h ? 3.715843e-6 : 3.365388e-8, "1/(cell·d)", .verified, src, "killing rate"),
      ParameterInfo("T0", h ? 2e6 : 3e6, "cells", .verified, src, "tumour cells at time 0"),
      ParameterInfo(
        "rechallenge_day", h ? 250 : 0, "d", .verified, src + (h ? " (event2)" : "; none for Raji (0 = off)"),
        "day the tumour is set to rechallenge_cells (0 = no rechallenge)"),
      ParameterInfo("rechallenge_cells", h ? 1e6 : 0, "cells", .verified, src, "tumour cells after rechallenge"),
    ]
  }

  /// The published protocol: 2e6 CAR T cells at day 45 (HDLM-2) or 1e7 at day 7 (Raji).
  public var publishedRegimen: Regimen {
    switch variant {
    case .hdlm2: return Regimen(infusions: [CARTInfusion(day: 45, dose: 2e6, basis: .cells, memoryFraction: 0)])
    case .raji: return Regimen(infusions: [CARTInfusion(day: 7, dose: 1e7, basis: .cells, memoryFraction: 0)])
    }
  }

  public func makeProblem(patient: Patient, regimen: Regimen, start: Double, end: Double) -> ModelProblem<CARTmathSystem> {
    let p = parameters
    var doses: [Dose] = []
    for (i, inf) in regimen.infusions.enumerated() {
      let cells = inf.carPositiveCells(for: patient)
      doses.append(Dose(time: inf.day, target: 0, amount: cells * (1 - inf.memoryFraction), label: "CAR T infusion \(i + 1)"))
      if inf.memoryFraction > 0 {
        doses.append(Dose(time: inf.day, target: 1, amount: cells * inf.memoryFraction, label: "CAR T infusion \(i + 1) (memory)"))
      }
    }
    var events: [TimeEvent] = []
    if p["rechallenge_day"] > 0 {
      let cells = p["rechallenge_cells"]
      events.append(TimeEvent(time: p["rechallenge_day"], label: "tumour rechallenge") { _, u in u[2] = cells })
    }
    let sys = CARTmathSystem(
      phi: p["phi"], rho: p["rho"], epsilon: p["epsilon"], theta: p["theta"], alpha: p["alpha"], mu: p["mu"],
      r: p["r"], b: p["b"], gamma: p["gamma"])
    return ModelProblem(
      problem: ODEProblem(system: sys, u0: [0, 0, p["T0"]], tspan: (start, end), doses: doses, timeEvents: events),
      absoluteTolerances: [1e-6, 1e-6, 1e-6], nonNegative: [0, 1, 2])
  }

  public func observer(patient: Patient) -> @Sendable (ArraySlice<Double>) -> [Double] {
    { u in
      let b = u.startIndex
      return [u[b] + u[b + 1], u[b + 2]]
    }
  }
}

/// The CARTmath right-hand side with its analytic Jacobian.
public struct CARTmathSystem: ODESystem, Sendable {
  public let phi, rho, epsilon, theta, alpha, mu, r, b, gamma: Double
  public var dimension: Int { 3 }
  public var isAutonomous: Bool { true }
  public var hasAnalyticJacobian: Bool { true }

  @inlinable
  public func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    let ct = u[0], cm = u[1], tu = u[2]
    du[0] = phi * ct - rho * ct + theta * tu * cm - alpha * tu * ct
    du[1] = epsilon * ct - theta * tu * cm - mu * cm
    du[2] = r * tu * (1 - b * tu) - gamma * ct * tu
  }

  @inlinable
  public func jacobian(t: Double, u: UnsafeBufferPointer<Double>, J: UnsafeMutableBufferPointer<Double>) {
    let ct = u[0], cm = u[1], tu = u[2]
    J[0] = phi - rho - alpha * tu
    J[1] = theta * tu
    J[2] = theta * cm - alpha * ct
    J[3] = epsilon
    J[4] = -theta * tu - mu
    J[5] = -theta * cm
    J[6] = -gamma * tu
    J[7] = 0
    J[8] = r * (1 - 2 * b * tu) - gamma * ct
  }
}
