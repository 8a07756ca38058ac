import CARTModels
import Foundation
import SBMLDocument
import SBMLKit

/// Exports a built-in model (with a scenario's patient, parameters and doses) as SBML.
public enum SBMLExport {
  /// `model` as SBML: with the patient, parameters and doses of the scenario file at
  /// `scenarioPath` (whose model must be `model`), else the default patient without doses.
  public static func document(model: String, scenarioPath: String?) throws -> String {
    guard let path = scenarioPath else {
      let file = "<default>"
      let s = try Scenario.parse(Data(#"{"model": "\#(model)", "car_t": {"dose": 1, "basis": "cells"}}"#.utf8), file: file)
      return try document(for: s, file: file, withDoses: false)
    }
    let s = try Scenario.load(path: path)
    guard s.model == model else {
      throw InputError(file: path, path: "model", message: "is '\(s.model)', but the export asks for '\(model)'")
    }
    return try document(for: s, file: path)
  }

  /// The SBML L3V2 document text. Without doses the regimen is empty.
  public static func document(for scenario: Scenario, file: String = "scenario", withDoses: Bool = true) throws -> String {
    let regimen = withDoses ? scenario.regimen : Regimen(infusions: [])
    let start = withDoses ? scenario.startDay : 0
    switch scenario.model {
    case "heros":
      let (m, _, _, _) = try Simulator.prepare(HEROSModel(), scenario, file: file)
      return m.sbml(patient: scenario.patient, regimen: regimen, start: start, end: scenario.horizonDays).xml()
    case "cartmath-hdlm2", "cartmath-raji":
      let (m, _, _, _) = try Simulator.prepare(CARTmathModel(scenario.model == "cartmath-raji" ? .raji : .hdlm2), scenario, file: file)
      return m.sbml(patient: scenario.patient, regimen: regimen, start: start, end: scenario.horizonDays).xml()
    default:
      throw InputError(file: file, path: "model", message: "unknown model '\(scenario.model)'")
    }
  }
}
