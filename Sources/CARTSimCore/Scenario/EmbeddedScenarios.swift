/// Scenarios compiled into the binary, so that `cartsim simulate` runs without files.
/// A test checks that each is identical to its file in `Examples/`.
public enum EmbeddedScenarios {
  /// `Examples/heros2-cohortB.json`.
  public static let heros2CohortB = #"""
{
  "name": "HEROS 2.0 cohort B",
  "description": "Fludarabine + cyclophosphamide, then 1e8 total T cells/m2 (HER2-CAR T), three infusions 6 weeks apart, each after lymphodepletion (Hegde et al., Nature Cancer 2024; NCT00902044). Flu/Cy doses were not published: 30 mg/m2/d fludarabine x5 and 500 mg/m2/d cyclophosphamide x2 are assumed.",
  "model": "heros",
  "patient": {"age_years": 14, "weight_kg": 50, "height_cm": 160, "baseline_sld_mm": 80, "her2_level": 1.0},
  "lymphodepletion": {
    "mode": "pk",
    "agents": [
      {"drug": "fludarabine", "mg_per_m2": 30, "days": [-7, -6, -5, -4, -3], "infusion_minutes": 30},
      {"drug": "cyclophosphamide", "mg_per_m2": 500, "days": [-7, -6], "infusion_minutes": 60}
    ]
  },
  "car_t": {
    "dose": 1e8,
    "basis": "total_t_cells_per_m2",
    "car_positive_fraction": 0.674,
    "memory_fraction": 0.3,
    "number": 3,
    "interval_days": 42,
    "lymphodepletion_before": [1, 2, 3]
  },
  "simulation": {"horizon_days": 730, "output_step_days": 0.25, "method": "auto", "rtol": 1e-6},
  "response": {"assessment_every_days": 42, "complete_response_sld_mm": 2}
}

"""#
}
