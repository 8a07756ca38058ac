extension HEROSModel {
  // Short citations; full references are in Guides/Models/HEROS.md.
  static let kimmel = "Kimmel, Locke & Altrock 2021, Proc R Soc B 288:20210229"
  static let stein = "Stein et al. 2019, CPT:PSP 8:285, doi:10.1002/psp4.12388"
  static let hardiansyah = "Hardiansyah & Ng 2019, Clin Transl Sci 12:343"
  static let singh21 = "Singh et al. 2021, CPT:PSP 10:362"
  static let kareva = "Kareva & Gevertz, T-cell exhaustion model (github jgevertz/T_Cell_Exhaustion)"
  static let varela = "Varela-González-Aller et al. 2025, Pharmaceutics 17:1592"
  static let ahmed20 = "Ahmed et al. 2020, Front Pharmacol 11:406"
  static let ahamadi = "Ahamadi et al. 2017, CPT:PSP 6:49"
  static let aacr2012 = "Ahmed et al., AACR 2012 abstract 3500 (HEROS 1.0 products)"
  static let calibrated = "CARTSim calibration to HEROS 1.0/2.0 (Guides/Models/HEROS.md)"
  /// The population calibration of issue 13: posterior medians of Examples/heros-calibration.json.
  static let heros =
    "posterior median of cartsim calibrate against the HEROS 1.0/2.0 outcomes (Examples/heros-calibration.json; Guides/Credibility.md)"

  /// The parameter table: every value with unit, source and evidence level.
  public static let defaultParameters: [ParameterInfo] = [
    // Lymphocyte homeostasis and competition (Kimmel 2021).
    ParameterInfo("r_N", 0.17, "1/d", .verified, kimmel, "normal lymphocyte Gompertz growth rate"),
    ParameterInfo(
      "K_N", 2.5e11, "cells (70 kg)", .verified, kimmel + "; scaled by weight/70 kg (assumed)",
      "normal lymphocyte carrying capacity"),
    ParameterInfo(
      "K_C", 7.02e10, "cells (70 kg)", .calibrated,
      heros + " (prior 2e10–5e11; Kimmel 2021 gives 6.96e10 for axi-cel in LBCL); L ≈ K_N > K_C gives no expansion without LD (HEROS 1.0)",
      "CAR T carrying capacity of the competition term"),
    ParameterInfo("rho_C", 0.0251, "1/d", .verified, kimmel, "baseline CAR T proliferation rate"),
    ParameterInfo("a_C", 0.423, "1", .verified, kimmel, "shape of the lymphopenia-driven proliferation boost"),
    ParameterInfo("b_C", 0.525, "1/d", .verified, kimmel, "maximal lymphopenia-driven proliferation boost"),
    // Lymphodepletion: simplified mode.
    ParameterInfo(
      "N_LD_flu_cy", 3e9, "cells (70 kg)", .verified, kimmel + " (ZUMA-1 median after Flu/Cy); sarcoma transfer assumed",
      "normal lymphocytes at infusion after Flu/Cy (simplified LD)"),
    ParameterInfo(
      "N_LD_flu", 1.5e10, "cells (70 kg)", .assumed, calibrated,
      "normal lymphocytes at infusion after fludarabine alone (simplified LD)"),
    ParameterInfo("s_LD", 0.5, "1", .assumed, "none", "fraction of circulating CAR T cells surviving a repeat LD course"),
    // Lymphodepletion: PK mode, drug PD.
    ParameterInfo("kmax_flu", 2.0, "1/d", .assumed, calibrated, "maximal lymphocyte kill rate by F-ara-A"),
    ParameterInfo("EC50_flu", 300, "ng/mL", .assumed, calibrated, "F-ara-A concentration at half-maximal kill"),
    ParameterInfo("kmax_cy", 6.0, "1/d", .assumed, calibrated, "maximal lymphocyte kill rate by cyclophosphamide"),
    ParameterInfo("EC50_cy", 10, "ug/mL", .assumed, calibrated, "cyclophosphamide concentration at half-maximal kill"),
    ParameterInfo(
      "LD_washout", 1e-9, "1", .assumed,
      "numerical choice (Guides/Models/HEROS.md, State events): below it a drug kills at under 1e-9 of its maximal rate",
      "concentration of fludarabine or cyclophosphamide, as a fraction of its EC50, below which the drug is set to zero"),
    ParameterInfo(
      "ld_car_sensitivity", 3, "1", .assumed,
      calibrated + " (re-dosing LD does not expand resident CAR T; proliferating cells are more sensitive to fludarabine)",
      "LD kill rate of CAR T cells relative to normal lymphocytes (PK mode)"),
    // Fludarabine PK (Varela 2025), 70 kg, CrCL 96 mL/min.
    ParameterInfo("CL_flu", 6.1, "L/h (70 kg)", .verified, varela + "; CL = 4.4 + 1.7·CrCL/96, ×(WT/70)^0.75", "F-ara-A clearance"),
    ParameterInfo("V1_flu", 41.2, "L (70 kg)", .verified, varela + "; ×(WT/70)", "F-ara-A central volume"),
    ParameterInfo("V2_flu", 14.5, "L (70 kg)", .verified, varela, "F-ara-A first peripheral volume"),
    ParameterInfo("V3_flu", 10.8, "L (70 kg)", .verified, varela, "F-ara-A second peripheral volume"),
    ParameterInfo("Q2_flu", 4.8, "L/h (70 kg)", .verified, varela, "F-ara-A intercompartmental clearance 2"),
    ParameterInfo("Q3_flu", 3.6, "L/h (70 kg)", .verified, varela, "F-ara-A intercompartmental clearance 3"),
    ParameterInfo(
      "flu_salt_factor", 0.78, "1", .verified, varela + " (F-ara-A = 0.78 × fludarabine phosphate)",
      "F-ara-A per mg of fludarabine phosphate"),
    // Cyclophosphamide PK (Ahmed 2020).
    ParameterInfo("CL_cy", 5.41, "L/h", .verified, ahmed20, "cyclophosphamide clearance"),
    ParameterInfo("V_cy", 46.5, "L (BSA 1.58 m²)", .verified, ahmed20 + "; ×(BSA/1.58)^0.861", "cyclophosphamide volume"),
    // Pembrolizumab PK (Ahamadi 2017), 76.8 kg.
    ParameterInfo("CL_pem", 0.22, "L/d (76.8 kg)", .verified, ahamadi + "; ×(WT/76.8)^0.595", "pembrolizumab clearance"),
    ParameterInfo("Vc_pem", 3.48, "L (76.8 kg)", .verified, ahamadi + "; ×(WT/76.8)^0.489", "pembrolizumab central volume"),
    ParameterInfo("Q_pem", 0.795, "L/d (76.8 kg)", .verified, ahamadi, "pembrolizumab intercompartmental clearance"),
    ParameterInfo("Vp_pem", 4.06, "L (76.8 kg)", .verified, ahamadi, "pembrolizumab peripheral volume"),
    ParameterInfo("EC50_pd1", 1.0, "ug/mL", .assumed, "none retrieved", "pembrolizumab concentration at half PD-1 occupancy"),
    ParameterInfo(
      "Imax_PD", 0.5, "1", .assumed, "Kosinsky-type precedent; none retrieved",
      "maximal PD-1/PD-L1 suppression of CAR T killing and antigen-driven expansion without blockade"),
    ParameterInfo(
      "pd1_max", 0.05, "1/d", .assumed, kareva + " (re-expressed as a rate × occupancy)",
      "maximal rescue rate of reversibly exhausted CAR T by PD-1 blockade"),
    // Chemotherapy effect (de Pillis form).
    ParameterInfo(
      "gamma_CH", 0.9, "1/d", .verified, "de Pillis et al. 2008 chemo-immunotherapy model; transfer assumed",
      "decay of the chemotherapy effect"),
    ParameterInfo("K_TC", 0.8, "1/(d·effect)", .assumed, "de Pillis et al. 2008 value, units re-expressed", "tumour kill per chemo effect"),
    ParameterInfo(
      "K_LC", 0.6, "1/(d·effect)", .assumed, "de Pillis et al. 2008 value, units re-expressed", "lymphocyte kill per chemo effect"),
    // CAR T in blood/lymphoid tissue.
    ParameterInfo("d_E", 0.16, "1/d", .verified, stein + " (alpha, contraction); mapping assumed", "effector CAR T death rate"),
    ParameterInfo("d_M", 0.0032, "1/d", .verified, stein + " (beta, ≈220 d half-life); mapping assumed", "memory CAR T death rate"),
    ParameterInfo("a_E", 0.05, "1/d", .verified, hardiansyah + " (0.024–0.12)", "effector → memory conversion at low burden"),
    ParameterInfo(
      "a_M", 0.01, "1/d", .assumed,
      hardiansyah + " gives 1/d in CLL; lowered so memory cells persist for weeks without LD (HEROS 1.0); " + calibrated,
      "memory → effector conversion at high burden"),
    ParameterInfo("h_B", 1e11, "cells", .assumed, hardiansyah + " form; scale re-set for solid tumour", "burden at half-maximal switch"),
    ParameterInfo("k_in", 1.71, "1/d", .verified, singh21 + " (blood → marrow, MM)", "trafficking rate out of blood"),
    ParameterInfo("k_out", 0.176, "1/d", .verified, singh21, "return rate from the tumour site"),
    ParameterInfo(
      "phi_inf", 0.01, "1", .assumed, "order of magnitude after Brown 2021 (human delivery ≪ mouse)",
      "fraction of trafficking CAR T reaching the tumour"),
    // CAR T at the tumour.
    ParameterInfo(
      "rho_Ag", 0.3, "1/d", .assumed, singh21 + " Kexp_max 1.73/d for BCMA; lowered for solid tumour",
      "antigen-driven expansion at the tumour"),
    ParameterInfo("d_ET", 0.16, "1/d", .assumed, "= d_E", "death rate of CAR T at the tumour"),
    ParameterInfo("g1", 0.045, "1/d", .verified, kareva + "; time unit assumed days", "exhaustion rate (functional → reversible)"),
    ParameterInfo("g2", 0.01, "1/d", .verified, kareva, "spontaneous recovery from reversible exhaustion"),
    ParameterInfo("g3", 0.05, "1/d", .verified, kareva, "reversible → terminal exhaustion"),
    ParameterInfo("d_X", 0.044, "1/d", .verified, kareva, "death rate of reversibly exhausted CAR T"),
    ParameterInfo("d_XT", 0.01, "1/d", .verified, kareva, "death rate of terminally exhausted CAR T"),
    ParameterInfo("Fi_1", 10, "1", .verified, kareva, "inflammation at half-maximal exhaustion (F1 of Kareva & Gevertz)"),
    ParameterInfo("Fi_2", 25, "1", .verified, kareva, "inflammation at half-maximal terminal exhaustion (F2 of Kareva & Gevertz)"),
    ParameterInfo(
      "n_F", 4, "1", .assumed, "smooth replacement of the Kareva & Gevertz switches", "Hill exponent of the exhaustion switches"),
    ParameterInfo("b_F", 0.02, "1/d", .verified, kareva, "inflammation produced per unit of killing"),
    ParameterInfo("d_F", 0.01, "1/d", .verified, kareva, "inflammation decay rate"),
    ParameterInfo("kill_scale", 1e7, "cells/d", .assumed, "none", "killing rate that produces one unit of inflammation"),
    // Antigen and killing.
    ParameterInfo(
      "D50", 0.5, "relative HER2", .assumed, "Singh 2020 Emax framework; HER2 density on sarcoma not retrieved",
      "HER2 level at half-maximal CAR activation"),
    ParameterInfo("n_H", 2, "1", .assumed, "none", "Hill exponent of antigen dependence"),
    ParameterInfo("gamma_B", 1.15, "1/d", .verified, kimmel + " (LBCL)", "maximal kill rate per tumour cell"),
    ParameterInfo(
      "xi_kill", 0.0108, "CAR T per tumour cell", .calibrated,
      heros + "; ratio-dependent form of " + kareva + " and de Pillis et al. 2005 (Cancer Res 65:7950)",
      "effector:target ratio at the tumour at half-maximal killing"),
    ParameterInfo(
      "theta_L", 0.706, "1", .calibrated, heros + " (prior 0–1; CD28ζ CARs act on antigen-low targets: Majzner et al. 2020)",
      "relative kill of HER2-low cells"),
    // Tumour.
    ParameterInfo(
      "r_T", 0.0212, "1/d", .calibrated, heros + " (prior 0.005–0.05; sarcoma not retrieved; LBCL 0.01–0.5 (Kimmel), MM 0.008 (Singh))",
      "tumour growth rate"),
    ParameterInfo("K_T", 1e12, "cells", .assumed, "none", "tumour carrying capacity"),
    ParameterInfo("mu_esc", 0, "1/d", .assumed, "none", "HER2-high → HER2-low switching (antigen escape)"),
    ParameterInfo("mu_rev", 0, "1/d", .assumed, "none", "HER2-low → HER2-high switching"),
    ParameterInfo(
      "f_L0", 0.1, "1", .assumed, "none (HEROS eligibility allows 1–100% HER2+ cells)", "HER2-low fraction of the tumour at baseline"),
    ParameterInfo("n_lesions", 2, "1", .assumed, "none", "number of target lesions (equal spheres)"),
    ParameterInfo("cells_per_cm3", 1e9, "cells/cm³", .assumed, "conventional 1 cm³ ≈ 1e9 cells", "tumour cell density"),
    ParameterInfo("extinction_cells", 1, "cells", .assumed, "none", "a population below this is set to zero"),
    // IL-6 and CRS.
    ParameterInfo("k_IL6", 3.96, "1/d", .verified, hardiansyah, "IL-6 elimination rate"),
    ParameterInfo("IL6_0", 1.5, "pg/mL", .verified, hardiansyah + " (1–1.7 pg/mL, digitised)", "baseline IL-6"),
    ParameterInfo(
      "P_IL6", 4.30e3, "pg/mL/d", .calibrated, heros + " (prior 1e3–1e6); " + hardiansyah + " structure",
      "maximal IL-6 production"),
    ParameterInfo(
      "A50_IL6", 0.119, "1e9 cells", .calibrated, heros + " (prior 0.01–10)",
      "engaged CAR T cells (tumour-site CAR T × antigen signal × burden saturation) at half-maximal IL-6 production"),
    ParameterInfo(
      "n_IL6", 1.26, "1", .calibrated, heros + " (prior 1–4); myeloid amplification of CAR T-derived cytokines",
      "Hill exponent of IL-6 production"),
    ParameterInfo("IL6_grade1", 10, "pg/mL", .assumed, calibrated, "IL-6 peak for CRS grade ≥ 1"),
    ParameterInfo("IL6_grade2", 50, "pg/mL", .assumed, calibrated, "IL-6 peak for CRS grade ≥ 2"),
    ParameterInfo("IL6_grade3", 200, "pg/mL", .assumed, calibrated, "IL-6 peak for CRS grade ≥ 3"),
    ParameterInfo("IL6_grade4", 1000, "pg/mL", .assumed, calibrated, "IL-6 peak for CRS grade 4"),
    // Observation.
    ParameterInfo(
      "f_blood", 0.02, "1", .assumed, "≈2% of lymphocytes circulate (Westermann & Pabst 1992)",
      "fraction of lymphoid-compartment cells in blood"),
    ParameterInfo("blood_volume_mL_per_kg", 70, "mL/kg", .assumed, "typical adult/child value", "blood volume per kg"),
    ParameterInfo("vcn", 1, "copies/cell", .assumed, "none", "CAR vector copies per CAR+ cell"),
    ParameterInfo("dna_pg_per_cell", 6.6, "pg", .verified, "diploid human genome mass", "DNA per nucleated cell"),
    ParameterInfo(
      "nucleated_cells_per_uL", 6000, "cells/uL", .assumed, "typical white cell count", "nucleated cells per µL of blood (DNA yield)"),
    ParameterInfo(
      "qpcr_lod", 0.109, "copies/ug DNA", .calibrated,
      heros + " (prior 0.01–3; the HEROS assay's limit is not published: HEROS 1.0 detected cells 3 h after 1e5/m²)",
      "qPCR detection limit"),
  ]
}
