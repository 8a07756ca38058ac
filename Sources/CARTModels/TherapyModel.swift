import ODEKit

/// A named output of a model computed from the state (cells/µL, mm, pg/mL …).
public struct Observable: Sendable, Equatable {
  public var name: String
  public var unit: String
  public var description: String
  public init(_ name: String, _ unit: String, _ description: String) {
    self.name = name
    self.unit = unit
    self.description = description
  }
}

/// The ODE problem a model makes for one patient and regimen, ready for ``solve``.
public struct ModelProblem<System: ODESystem> {
  public var problem: ODEProblem<System>
  /// Per-state absolute tolerances matched to the state's scale.
  public var absoluteTolerances: [Double]
  /// States that are amounts or cell counts (kept non-negative).
  public var nonNegative: [Int]
}

/// A CAR T therapy model: states, parameters with units and sources, a system for a
/// patient, the events a regimen makes, and observables.
public protocol TherapyModel: Sendable {
  associatedtype System: ODESystem
  /// Identifier used on the command line and in scenario files.
  var id: String { get }
  /// One-line description with the citation.
  var title: String { get }
  var parameters: ParameterSet { get set }
  var stateNames: [String] { get }
  var stateUnits: [String] { get }
  var observables: [Observable] { get }
  /// Builds the problem for a patient and a regimen over `[start, end]` days.
  func makeProblem(patient: Patient, regimen: Regimen, start: Double, end: Double) -> ModelProblem<System>
  /// The observables of a patient as a function of the state vector (same order as
  /// ``observables``), with the parameters it reads resolved once: it runs at every output.
  func observer(patient: Patient) -> @Sendable (ArraySlice<Double>) -> [Double]
}

extension TherapyModel {
  /// The observables from one state vector (``observer(patient:)`` for a single use).
  public func observe(_ state: ArraySlice<Double>, patient: Patient) -> [Double] { observer(patient: patient)(state) }

  /// Index of a state by name.
  public func stateIndex(_ name: String) -> Int? { stateNames.firstIndex(of: name) }
}
