// swift-tools-version: 6.0
import PackageDescription

/// The integrator and the SBML evaluator run millions of times per trial: their memory
/// exclusivity is established by construction (one integrator and one register file per
/// simulation, never shared), so the dynamic exclusivity checks are turned off in release builds.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

/// Every target of ours: existential types spelled `any`, and a file sees only the members of
/// the modules it imports itself.
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
  name: "CARTSim",
  platforms: [.macOS(.v15)],
  products: [
    // MARK: Public API
    .library(name: "ODEKit", targets: ["ODEKit"]),
    .library(name: "CARTModels", targets: ["CARTModels"]),
    .library(name: "CARTSimCore", targets: ["CARTSimCore"]),
    .library(name: "SBMLDocument", targets: ["SBMLDocument"]),
    .library(name: "SBMLKit", targets: ["SBMLKit"]),
    .library(name: "StatKit", targets: ["StatKit"]),
    .library(name: "DoseFinding", targets: ["DoseFinding"]),
    .library(name: "Estimation", targets: ["Estimation"]),
    .library(name: "NLME", targets: ["NLME"]),
    // MARK: Executables
    .executable(name: "cartsim", targets: ["cartsim"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
  ],
  targets: [
    // Numerical core: knows nothing of biology, imports RealModule only (no Foundation).
    .target(
      name: "ODEKit",
      dependencies: [.product(name: "RealModule", package: "swift-numerics")],
      swiftSettings: hotPath + strict),
    // Model library: the executable models (HEROS, CARTmath), dosing, observables.
    .target(
      name: "CARTModels",
      dependencies: ["ODEKit", "SBMLDocument", .product(name: "RealModule", package: "swift-numerics")],
      swiftSettings: hotPath + strict),
    // Work over threads with results independent of the thread count; the one lock wrapper.
    .target(name: "Parallel", swiftSettings: strict),
    // RFC 4180 CSV/TSV reading and writing for every table the package reads or writes (no Foundation).
    .target(name: "CSVKit", swiftSettings: strict),
    // Statistics: counter-based random streams, distributions, survival analysis.
    .target(
      name: "StatKit",
      dependencies: [.product(name: "RealModule", package: "swift-numerics")], swiftSettings: strict),
    // Phase I dose finding: 3+3, BOIN, CRM, mTPI-2, simulated and exact operating characteristics.
    .target(
      name: "DoseFinding",
      dependencies: ["StatKit", "CSVKit", "Parallel", .product(name: "RealModule", package: "swift-numerics")], swiftSettings: strict),
    // SBML documents: XML, reading Level 2/3 (MathML to expressions), writing, flattening `comp`.
    .target(name: "SBMLDocument", swiftSettings: strict),
    // SBML simulation: math compiled to register programs (or native code), the ODE system, populations.
    .target(name: "SBMLKit", dependencies: ["SBMLDocument", "ODEKit", "Parallel"], swiftSettings: hotPath + strict),
    // The SBML Test Suite runner, for `cartsim sbml test` and the tests (not a product).
    .target(name: "SBMLTestSuite", dependencies: ["SBMLKit", "SBMLDocument", "ODEKit", "Parallel", "CSVKit"], swiftSettings: strict),
    // Parameter estimation: PEtab problems, objective with forward sensitivities, optimisers,
    // multi-start fitting and profile likelihoods.
    .target(
      name: "Estimation", dependencies: ["SBMLKit", "SBMLDocument", "ODEKit", "StatKit", "Parallel", "CSVKit"],
      swiftSettings: hotPath + strict),
    // Population (NLME) models: NONMEM control streams and datasets, closed-form and ODE
    // kinetics, FO/FOCE/FOCE-I estimation, covariance step, diagnostics.
    .target(
      name: "NLME",
      dependencies: [
        "Estimation", "SBMLKit", "SBMLDocument", "ODEKit", "StatKit", "Parallel", "CSVKit",
        .product(name: "RealModule", package: "swift-numerics"),
      ],
      swiftSettings: hotPath + strict),
    // Application layer: scenario files, validation, simulation runs, CSV/JSON/SVG output.
    .target(
      name: "CARTSimCore",
      dependencies: [
        "CARTModels", "ODEKit", "SBMLKit", "SBMLDocument", "StatKit", "DoseFinding", "Estimation", "NLME", "Parallel", "CSVKit",
      ],
      swiftSettings: strict),
    // The web app: HTTP server, JSON API, pages, run store. The only target importing Hummingbird and GRDB.
    .target(
      name: "CARTSimServer",
      dependencies: [
        "CARTSimCore", "CARTModels", "DoseFinding", "Parallel",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "GRDB", package: "GRDB.swift"),
      ], swiftSettings: strict),
    // Thin command line front end.
    .executableTarget(
      name: "cartsim",
      dependencies: [
        "CARTSimCore", "CARTModels", "ODEKit", "SBMLKit", "SBMLDocument", "SBMLTestSuite", "DoseFinding", "StatKit", "CARTSimServer",
        "Estimation", "NLME", "Parallel", "CSVKit",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ], swiftSettings: strict),
    // MARK: Tests
    // What the test targets share (package root, ../shared, temporary folders, the cartsim runner).
    .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),
    // The cartsim executable run as a user runs it.
    .testTarget(name: "CLITests", dependencies: ["CARTSimCore", "DoseFinding", "TestSupport"], swiftSettings: strict),
    .testTarget(
      name: "ODEKitTests", dependencies: ["TestSupport", "ODEKit", "StatKit"], resources: [.copy("Fixtures")], swiftSettings: strict),
    .testTarget(
      name: "CARTModelsTests", dependencies: ["TestSupport", "CARTModels", "ODEKit", "SBMLDocument"], resources: [.copy("Fixtures")],
      swiftSettings: strict),
    .testTarget(
      name: "CARTSimCoreTests",
      dependencies: [
        "TestSupport", "CARTSimCore", "CARTModels", "ODEKit", "StatKit", "SBMLKit", "SBMLDocument", "DoseFinding", "Estimation",
      ],
      swiftSettings: strict),
    .testTarget(
      name: "SBMLKitTests", dependencies: ["TestSupport", "SBMLKit", "SBMLDocument", "SBMLTestSuite", "ODEKit"],
      exclude: ["conformance-baseline.txt", "biomodels-reasons.md"], swiftSettings: strict),
    .testTarget(
      name: "EstimationTests", dependencies: ["TestSupport", "Estimation", "SBMLKit", "SBMLDocument", "ODEKit", "StatKit"],
      swiftSettings: strict),
    .testTarget(
      name: "NLMETests", dependencies: ["TestSupport", "NLME", "Estimation", "ODEKit", "StatKit", "CARTSimCore"], swiftSettings: strict),
    .testTarget(
      name: "DoseFindingTests",
      dependencies: ["TestSupport", "DoseFinding", "StatKit", .product(name: "RealModule", package: "swift-numerics")],
      swiftSettings: strict),
    .testTarget(
      name: "CARTSimServerTests",
      dependencies: [
        "TestSupport", "CARTSimServer", "CARTSimCore", "CARTModels", "DoseFinding",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTesting", package: "hummingbird"),
      ], swiftSettings: strict),
    .testTarget(name: "CSVKitTests", dependencies: ["CSVKit"], swiftSettings: strict),
    .testTarget(
      name: "StatKitTests", dependencies: ["TestSupport", "StatKit", .product(name: "RealModule", package: "swift-numerics")],
      resources: [.copy("Fixtures")], swiftSettings: strict),
  ]
)
