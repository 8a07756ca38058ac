#!/usr/bin/env bash
# Multi-start fitting of the PEtab benchmark problems: pyPESTO + AMICI + fides against `cartsim fit`.
# Creates the venv .build/bench-venv (relative to the package root), installs the pinned Python
# packages once, then runs petab_fit_benchmark.py with all arguments passed on:
#
#   swift build -c release --product cartsim      # for the CARTSim side
#   Scripts/bench/petab_fit_benchmark.sh [--starts 20] [--seed 0] [--out FILE.json]
#   Scripts/bench/petab_fit_benchmark.sh --skip-cartsim --out Scripts/bench/results/petab_fit_pypesto.json
#   Scripts/bench/petab_fit_benchmark.sh --help
#
# System requirements (Debian 12): python3 >= 3.11 with its headers (Python.h: python3-dev for the
# system python) and venv (python3-venv), and a C++ compiler (g++), used to build AMICI from its
# source distribution and to compile each model. Nothing else: AMICI 1.0 gets BLAS from the
# scipy-openblas64 wheel and swig and cmake from PyPI, and HDF5 is optional (h5py ships a wheel), so
# libopenblas-dev, swig and libhdf5-dev are NOT needed. Missing Debian packages are installed with
# apt-get (as root, or with `sudo -n` if that works); otherwise the script stops and names them.
#
# Installing takes about 2.5 minutes on one core (AMICI's C++ build: SUNDIALS, SuiteSparse, AMICI);
# compiling each model about 20 s once, cached in .build/bench-amici/. Everything runs on one core:
# AMICI_PARALLEL_COMPILE=1 and single-threaded BLAS; set AMICI_PARALLEL_COMPILE=N to build faster.
#
# Environment: PYTHON=python3.x picks the interpreter for the venv (default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV=".build/bench-venv"
PYTHON="${PYTHON:-python3}"
# versions that work together (pyPESTO 0.7 requires AMICI >= 1.0)
PINS=(pypesto==0.7.0 amici==1.0.1 fides==0.8.0 petab==0.8.2)

export AMICI_PARALLEL_COMPILE="${AMICI_PARALLEL_COMPILE:-1}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$AMICI_PARALLEL_COMPILE}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

# shellcheck source=apt_install.sh
source "$ROOT/Scripts/bench/apt_install.sh"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "petab_fit_benchmark: $PYTHON is $("$PYTHON" --version 2>&1); pyPESTO 0.7 / AMICI 1.0 need >= 3.11 (set PYTHON=)" >&2
    exit 1
  }
  missing=()
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
  "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || missing+=(python3-dev)
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  [ ${#missing[@]} -eq 0 ] || apt_install petab_fit_benchmark -- "${missing[@]}"
  "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.petab-bench-pins"
if [ "$(cat "$STAMP" 2>/dev/null)" != "${PINS[*]}" ]; then
  command -v g++ >/dev/null 2>&1 || apt_install petab_fit_benchmark -- g++
  start=$(date +%s)
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install "${PINS[@]}"
  echo "${PINS[*]}" > "$STAMP"
  echo "petab_fit_benchmark: installed ${PINS[*]} in $(( $(date +%s) - start )) s" >&2
fi

# cmake and swig from the venv are needed when AMICI compiles a model
export PATH="$ROOT/$VENV/bin:$PATH"
exec "$VENV/bin/python" "$ROOT/Scripts/bench/petab_fit_benchmark.py" "$@"
