#!/usr/bin/env bash
# Work–precision diagrams (Guides/Solvers.md): cartsim's methods against libRoadRunner and SciPy.
# Creates the venv .build/wp-venv (relative to the package root) with the pinned packages once,
# then runs work_precision.py with all arguments passed on:
#
#   swift build -c release --product cartsim
#   Scripts/bench/work_precision.sh [--patients 20] [--scipy-patients 3] [--quick]
#
# Needs python3 with venv (Debian: python3-venv). Everything runs on one core.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV=".build/wp-venv"
PINS=(libroadrunner==2.10.0 python-libsbml==5.21.2 scipy==1.17.1 numpy==2.4.6 matplotlib==3.10.8)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import roadrunner, libsbml, scipy, matplotlib" 2>/dev/null; then
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "${PINS[@]}"
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
exec "$VENV/bin/python" Scripts/bench/work_precision.py "$@"
