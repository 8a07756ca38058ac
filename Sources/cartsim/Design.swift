import ArgumentParser
import CARTSimCore
import DoseFinding
import Foundation

/// `cartsim design`: phase I dose-finding designs (3+3, BOIN, CRM, mTPI-2): operating
/// characteristics, side-by-side comparison, BOIN's decision table, and next-dose decisions.
/// The studies and their reports are ``DesignStudy``'s; these commands read options and print.
struct Design: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "design",
    abstract: "Phase I dose finding: 3+3, BOIN, CRM and mTPI-2 (see Guides/DoseFinding.md).",
    subcommands: [DesignOC.self, DesignCompare.self, DesignBoundaries.self, DesignNext.self])
}

extension CRMModel: ExpressibleByArgument {}

/// `--design`: one of the designs (``AnyDesign/names``), checked as the option is read.
struct DesignName: ExpressibleByArgument {
  let name: String

  init?(argument: String) {
    guard let name = AnyDesign.canonicalName(argument) else { return nil }
    self.name = name
  }

  static var allValueStrings: [String] { AnyDesign.names }
}

/// The settings BOIN's decision table needs; part of every design's options.
struct BoundaryOptionGroup: ParsableArguments {
  @Option(help: "Target DLT rate, in (0, 1).")
  var target: Double

  @Option(help: "Patients per cohort (3+3 always uses 3).")
  var cohortSize: Int = 3

  @Option(help: "Number of cohorts (maximum sample size = cohorts × cohort size).")
  var cohorts: Int = 10

  @Option(help: "BOIN p_saf (default 0.6 × target).")
  var pSaf: Double?

  @Option(help: "BOIN p_tox (default 1.4 × target).")
  var pTox: Double?

  @Option(help: "BOIN elimination / mTPI-2 exclusion certainty.")
  var cutoffEli: Double = 0.95

  func settings() -> BoundarySettings {
    var b = BoundarySettings(target: target)
    b.cohortSize = cohortSize
    b.cohorts = cohorts
    b.pSaf = pSaf
    b.pTox = pTox
    b.cutoffEli = cutoffEli
    return b
  }
}

/// Options shared by the subcommands that build designs.
struct DesignOptionGroup: ParsableArguments {
  @OptionGroup var table: BoundaryOptionGroup

  @Option(help: "Maximum sample size (instead of --cohorts; the last cohort is truncated to it).")
  var maxN: Int?

  @Option(help: "Starting dose, 1-based.")
  var startDose: Int = 1

  @Option(help: "Stop once the next dose already has this many patients (BOIN: and the decision is to stay).")
  var nEarlystop: Int?

  @Option(help: "CRM skeleton (prior DLT rates), comma-separated, one per dose.")
  var skeleton: String?

  @Option(help: "CRM working model: empiric or logistic.")
  var crmModel: CRMModel = .empiric

  @Option(help: "CRM logistic intercept a0.")
  var intercept: Double = 3

  @Option(help: "CRM prior SD of beta (dfcrm default sqrt(1.34)).")
  var priorSd: Double = 1.34.squareRoot()

  @Flag(help: "CRM two-stage start-up: escalate one dose per cohort until the first DLT.")
  var crmStartup = false

  @Option(
    help:
      "CRM two-stage start-up sequence (dfcrm's x0): a dose level per patient until the first DLT, comma-separated, e.g. 1,1,1,2,2,2,3,3,3."
  )
  var startSequence: String?

  @Option(help: "CRM safety stop: stop if Pr(p1 > target | data) exceeds this (1 disables).")
  var crmSafety: Double = 0.9

  @Flag(help: "3+3: Korn et al.'s de-escalation (expand the dose below a toxic dose to 6).")
  var deescalate = false

  @Option(help: "mTPI-2 equivalence interval: target − epsilon1 …")
  var epsilon1: Double = 0.05

  @Option(help: "… target + epsilon2.")
  var epsilon2: Double = 0.05

  func settings() throws -> DesignSettings {
    var s = DesignSettings(target: table.target)
    s.cohortSize = table.cohortSize
    s.cohorts = table.cohorts
    s.maxN = maxN
    s.startDose = startDose
    s.nEarlystop = nEarlystop
    s.skeleton = try skeleton.map { try DesignLists.numbers($0, field: "skeleton") }
    s.crmModel = crmModel
    s.intercept = intercept
    s.priorSd = priorSd
    s.crmStartup = crmStartup
    s.startSequence = try startSequence.map { try DesignLists.levels($0, field: "start_sequence") }
    s.crmSafety = crmSafety
    s.deescalate = deescalate
    s.epsilon1 = epsilon1
    s.epsilon2 = epsilon2
    s.cutoffEli = table.cutoffEli
    s.pSaf = table.pSaf
    s.pTox = table.pTox
    return s
  }
}

/// Options for running operating characteristics.
struct OCRunOptionGroup: ParsableArguments {
  @Option(help: "True DLT probabilities per dose, comma-separated (or derive them with --from-model).")
  var pTrue: String?

  @Option(
    help:
      "Derive the DLT and response probabilities per dose from the mechanistic model: a trial spec whose population receives one arm's regimen at each --dose-levels."
  )
  var fromModel: String?

  @Option(help: "With --from-model: dose levels, comma-separated (e.g. 1e6,1e7,3e7,1e8).")
  var doseLevels: String?

  @Option(help: "With --from-model: dose basis of the levels (car_t_cells_per_m2, total_t_cells_per_m2, cells; default: the arm's).")
  var doseBasis: String?

  @Option(help: "With --from-model: DLT definition, crs>=GRADE[:DAYS] (default: the spec's).")
  var dlt: String?

  @Option(help: "With --from-model: the arm whose regimen is dosed (default: the first).")
  var arm: String?

  @Option(help: "With --from-model: virtual patients per dose level.")
  var modelPatients: Int = 200

  @Option(help: "With --from-model: follow-up in days for the response (default: the spec's).")
  var followUp: Double?

  @Option(help: "True response probabilities per dose (adds expected responders per trial).")
  var pResponse: String?

  @Option(help: "Simulated trials.")
  var trials: Int = 1000

  @Option(help: "Random seed (trial t, patient j reads draw j of stream address(t)).")
  var seed: UInt64 = 6

  @OptionGroup var threadsOption: ThreadsOption

  @Flag(help: "Exact operating characteristics by enumerating all cohort outcomes.")
  var exact = false

  @Option(help: "With --exact: refuse beyond this many distinct live trial states.")
  var maxStates: Int = 200_000

  func settings() throws -> OCRunSettings {
    var run: OCRunSettings
    if let fromModel {
      guard pTrue == nil && pResponse == nil else {
        throw DoseFindingInputError(field: "from_model", "give either --from-model or --p-true/--p-response")
      }
      guard let doseLevels else { throw DoseFindingInputError(field: "dose_levels", "is required with --from-model") }
      let spec = try TrialSpec.load(path: fromModel)
      var m = ModelCurveSettings(spec: spec, source: fromModel, doseLevels: try DesignLists.numbers(doseLevels, field: "dose_levels"))
      m.doseBasis = doseBasis
      m.dlt = dlt
      m.arm = arm
      m.patients = modelPatients
      m.followUp = followUp
      run = OCRunSettings(curves: .model(m))
    } else {
      guard let pTrue else { throw DoseFindingInputError(field: "p_true", "is required (or derive the curves with --from-model)") }
      run = OCRunSettings(
        curves: .given(
          pTrue: try DesignLists.numbers(pTrue, field: "p_true"),
          pResponse: try pResponse.map { try DesignLists.numbers($0, field: "p_response") }))
    }
    run.trials = trials
    run.seed = seed
    run.threads = threadsOption.count
    run.exact = exact
    run.maxStates = maxStates
    return run
  }
}

struct DesignOC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "oc", abstract: "Operating characteristics of one design (simulated, or exact with --exact).")

  @Option(help: "Design: boin, 3+3, crm or mtpi2.")
  var design: DesignName

  @OptionGroup var settings: DesignOptionGroup
  @OptionGroup var runner: OCRunOptionGroup

  @Flag(help: "Write JSON to standard output.")
  var json = false

  func run() throws {
    let report = try DesignStudy.operatingCharacteristics(design: design.name, settings: settings.settings(), run: runner.settings())
    print(json ? DesignJSON.render(report) : report.text, terminator: "")
  }
}

struct DesignCompare: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compare", abstract: "Several designs on the same simulated patients, side by side.")

  @Option(help: "Designs, comma-separated (boin,3+3,crm,mtpi2).")
  var designs: String = "boin,3+3,crm,mtpi2"

  @OptionGroup var settings: DesignOptionGroup
  @OptionGroup var runner: OCRunOptionGroup

  @Option(help: "Write a grouped bar plot of selection percent per dose to this SVG file.")
  var svg: String?

  @Flag(help: "Write JSON to standard output.")
  var json = false

  func run() throws {
    let names = designs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    let report = try DesignStudy.compare(designs: names, settings: settings.settings(), run: runner.settings())
    if let svg {
      do { try report.chart.write(toFile: svg, atomically: true, encoding: .utf8) } catch {
        throw DoseFindingInputError(source: svg, field: "svg", "cannot write: \(error.localizedDescription)")
      }
    }
    print(json ? DesignJSON.render(report) : report.text, terminator: "")
  }
}

struct DesignBoundaries: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "boundaries", abstract: "BOIN's decision table (as BOIN::get.boundary).")

  @OptionGroup var table: BoundaryOptionGroup

  @Flag(help: "Write JSON to standard output.")
  var json = false

  func run() throws {
    let report = try DesignStudy.boundaries(table.settings())
    print(json ? DesignJSON.render(report) : report.text, terminator: "")
  }
}

struct DesignNext: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "next", abstract: "Next-dose decision for a real trial's accrued data.",
    discussion: """
      --data is a CSV file with header dose,patients,dlts: one row per dose level, or one row per \
      cohort in treatment order (rows of the same dose are added up). When a dose appears on \
      several rows the rows are taken as cohorts and the last row is the most recent cohort (the \
      CRM's coherence rule uses it). The current dose is --current, else the last row's dose.
      """)

  @Option(help: "Design: boin, 3+3, crm or mtpi2.")
  var design: DesignName

  @OptionGroup var settings: DesignOptionGroup

  @Option(help: "CSV file with header dose,patients,dlts.")
  var data: String

  @Option(help: "Number of dose levels (default: the skeleton's length; required otherwise).")
  var doses: Int?

  @Option(help: "Current dose, 1-based (default: the last row's dose).")
  var current: Int?

  @Flag(help: "Write JSON to standard output.")
  var json = false

  func run() throws {
    guard let text = try? String(contentsOfFile: data, encoding: .utf8) else {
      throw DoseFindingInputError(source: data, field: "data", "cannot read the file")
    }
    let report = try DesignStudy.nextDose(
      design: design.name, settings: settings.settings(), csv: text, source: data,
      doses: doses, current: current)
    print(json ? DesignJSON.render(report) : report.text, terminator: "")
  }
}
