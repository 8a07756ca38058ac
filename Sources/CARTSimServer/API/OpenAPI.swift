/// The OpenAPI 3.1 description of the JSON API, served at `/api/openapi.json`.
/// `Tests/CARTSimServerTests` checks that every path here is routed and every API route is here.
import CARTSimCore

enum OpenAPI {
  static var version: String { CARTSimVersion.string }

  static let document: String = #"""
    {
      "openapi": "3.1.0",
      "info": {
        "title": "CARTSim API",
        "version": "\#(CARTSimVersion.string)",
        "description": "In-silico CAR T cell therapy: simulate scenarios, run virtual trials in the background, read models. Request bodies are the JSON files the cartsim command line reads, validated by the same code; an invalid body gets 400 with the dotted path of the offending field. When the server has a token, every route except /health needs 'Authorization: Bearer <token>'."
      },
      "servers": [{"url": "/"}],
      "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
          "Error": {
            "type": "object",
            "required": ["error", "message", "status"],
            "properties": {
              "error": {"type": "string", "description": "invalid_input, invalid_query, body_too_large, not_found, not_finished, not_resumable, unauthorized, internal_error"},
              "message": {"type": "string"},
              "field": {"type": "string", "description": "dotted path of the offending field, e.g. car_t.dose or arms[1].scenario.patient.her2_level"},
              "file": {"type": "string", "description": "the document the field is in ('request body', or an example scenario file an arm names)"},
              "status": {"type": "integer"}
            }
          },
          "Scenario": {"type": "object", "description": "A scenario file as `cartsim simulate` reads it (see README and Examples/heros2-cohortB.json)."},
          "TrialSpec": {"type": "object", "description": "A trial spec as `cartsim trial` reads it (see Guides/Trials.md and Examples/heros-trial.json). Arms may name the example scenario files (heros1.json, heros2-cohortB.json, heros2-cohortC.json, heros3.json) or give scenarios inline; population.csv is not accepted."},
          "Simulation": {
            "type": "object",
            "properties": {
              "summary": {"type": "object", "description": "as summary.json of cartsim simulate"},
              "time_course": {
                "type": "object",
                "properties": {
                  "time_unit": {"type": "string"},
                  "times": {"type": "array", "items": {"type": "number"}},
                  "series": {"type": "object", "additionalProperties": {
                    "type": "object",
                    "properties": {"unit": {"type": "string"}, "description": {"type": "string"}, "values": {"type": "array", "items": {"type": ["number", "null"]}}}
                  }}
                }
              },
              "infusion_days": {"type": "array", "items": {"type": "number"}},
              "compute_ms": {"type": "number"}
            }
          },
          "Run": {
            "type": "object",
            "properties": {
              "id": {"type": "string"},
              "name": {"type": "string"},
              "status": {"type": "string", "enum": ["queued", "running", "interrupted", "complete", "failed"]},
              "progress": {"type": "object", "properties": {
                "patients_done": {"type": "integer"}, "patients_total": {"type": "integer"}, "fraction": {"type": "number"},
                "shards_done": {"type": "integer"}, "shards_total": {"type": "integer"}}},
              "message": {"type": ["string", "null"]},
              "interruptions": {"type": "integer"},
              "rerun_of": {"type": ["string", "null"]},
              "created_at": {"type": "string", "format": "date-time"},
              "started_at": {"type": ["string", "null"], "format": "date-time"},
              "updated_at": {"type": "string", "format": "date-time"},
              "finished_at": {"type": ["string", "null"], "format": "date-time"},
              "summary": {"type": "object", "description": "summary.json of the trial, when complete"},
              "files": {"type": "object", "description": "links to patients.csv, km.csv, summary.json, report.html, when complete"}
            }
          },
          "Model": {
            "type": "object",
            "properties": {
              "name": {"type": "string"}, "title": {"type": "string"},
              "states": {"type": "array", "items": {"type": "string"}},
              "observables": {"type": "array", "items": {"type": "object"}},
              "parameters": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "value": {"type": "number"}, "unit": {"type": "string"},
                "evidence": {"type": "string", "enum": ["verified", "assumed"]}, "source": {"type": "string"}, "description": {"type": "string"}}}}
            }
          }
        },
        "responses": {
          "BadRequest": {"description": "invalid body: the error names the field", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "TooLarge": {"description": "body larger than the server's limit (--max-body)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "NotFound": {"description": "unknown id or name", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "Conflict": {"description": "the run is not in a state that allows this", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "Unauthorized": {"description": "missing or wrong bearer token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
      },
      "security": [{"bearer": []}],
      "paths": {
        "/health": {"get": {"summary": "Liveness, store migrations and job counts (never needs a token)", "security": [], "responses": {"200": {"description": "ok"}}}},
        "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        "/api/simulate": {"post": {
          "summary": "Simulate a scenario synchronously: time course and summary",
          "parameters": [{"name": "series", "in": "query", "schema": {"type": "string"}, "description": "comma-separated observables to return (default: all), e.g. car_t_blood,sld,il6"}],
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Scenario"}}}},
          "responses": {"200": {"description": "the simulation", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Simulation"}}}},
                        "400": {"$ref": "#/components/responses/BadRequest"}, "413": {"$ref": "#/components/responses/TooLarge"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
        "/api/scenarios": {
          "post": {"summary": "Save a scenario (validated; stored exactly as sent)",
                   "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Scenario"}}}},
                   "responses": {"201": {"description": "saved: id, name, url"}, "400": {"$ref": "#/components/responses/BadRequest"}, "413": {"$ref": "#/components/responses/TooLarge"}}},
          "get": {"summary": "Saved scenarios, newest first", "responses": {"200": {"description": "{scenarios: [...]}"}}}},
        "/api/scenarios/{id}": {"get": {"summary": "A saved scenario: the JSON file the command line reads",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "the scenario file"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
        "/api/examples": {"get": {"summary": "Example scenarios and trial specs compiled into the server", "responses": {"200": {"description": "{examples: [{name, title, kind, url}]}"}}}},
        "/api/examples/{name}": {"get": {"summary": "One example file",
          "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "the file"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
        "/api/trials": {
          "post": {"summary": "Start a trial in the background",
                   "parameters": [{"name": "source", "in": "query", "schema": {"type": "string"}, "description": "free text recorded with the spec (e.g. example:heros-trial.json or upload:my.json)"}],
                   "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TrialSpec"}}}},
                   "responses": {"202": {"description": "queued; Location is the run", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}}},
                                 "400": {"$ref": "#/components/responses/BadRequest"}, "413": {"$ref": "#/components/responses/TooLarge"}}},
          "get": {"summary": "All runs, newest first (they survive restarts)", "responses": {"200": {"description": "{trials: [Run]}"}}}},
        "/api/trials/{id}": {"get": {"summary": "Status, progress, and the summary when complete",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "the run", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}}}, "404": {"$ref": "#/components/responses/NotFound"}}}},
        "/api/trials/{id}/spec": {"get": {"summary": "The spec the run was started with, exactly as sent",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "the spec"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
        "/api/trials/{id}/resume": {"post": {"summary": "Resume an interrupted (or failed) run from its last completed shard",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"202": {"description": "queued"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
        "/api/trials/{id}/rerun": {"post": {"summary": "Start a new run of the same spec",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"202": {"description": "the new run"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
        "/api/trials/{id}/patients.csv": {"get": {"summary": "One row per virtual patient (complete runs)",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
        "/api/trials/{id}/km.csv": {"get": {"summary": "Kaplan-Meier curves (complete runs)",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
        "/api/trials/{id}/summary.json": {"get": {"summary": "summary.json (complete runs)",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "JSON"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
        "/api/trials/{id}/report.html": {"get": {"summary": "The self-contained HTML report (complete runs)",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
        "/api/trials/{id}/plots/{name}": {"get": {"summary": "One plot of the report (SVG)",
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "SVG", "content": {"image/svg+xml": {}}}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
        "/api/models": {"get": {"summary": "The built-in models", "responses": {"200": {"description": "{models: [{name, title, states, parameters, url}]}"}}}},
        "/api/models/{name}": {"get": {"summary": "A model's states, observables and parameters with units, sources and evidence levels",
          "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "the model", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}}, "404": {"$ref": "#/components/responses/NotFound"}}}},
        "/api/design/oc": {"post": {"summary": "Operating characteristics of one dose-finding design: the options of `cartsim design oc` in snake_case (design, target, p_true, cohort_size, cohorts, skeleton, start_sequence, trials, seed, exact, from_model with an embedded trial example, dose_levels, …); the answer is exactly what `cartsim design oc --json` prints. At most 100000 trials and 1000 model patients per level.",
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
          "responses": {"200": {"description": "the operating characteristics"}, "400": {"$ref": "#/components/responses/BadRequest"}}}},
        "/api/design/compare": {"post": {"summary": "Several designs (designs: [boin, 3+3, crm, mtpi2]) on the same simulated patients, as `cartsim design compare --json`; with ?chart=svg the grouped bar chart of selection percent instead",
          "parameters": [{"name": "chart", "in": "query", "required": false, "schema": {"type": "string", "enum": ["svg"]}}],
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
          "responses": {"200": {"description": "{designs: [...], model_curves?} or SVG"}, "400": {"$ref": "#/components/responses/BadRequest"}}}},
        "/api/design/boundaries": {"post": {"summary": "BOIN's decision table (target, cohort_size, cohorts, p_saf, p_tox, cutoff_eli), as `cartsim design boundaries --json`",
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
          "responses": {"200": {"description": "the table"}, "400": {"$ref": "#/components/responses/BadRequest"}}}},
        "/api/design/next": {"post": {"summary": "Next dose for accrued data: design, its settings, data (CSV text with header dose,patients,dlts), doses, current; as `cartsim design next --json`",
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
          "responses": {"200": {"description": "the decision"}, "400": {"$ref": "#/components/responses/BadRequest"}}}}
      }
    }
    """#
}
