#!/usr/bin/env bash
# The tests, as README gives them: prepares what they need, then runs `swift test` (arguments
# are passed on, e.g. `Scripts/test.sh --filter CRMTests`).
#
# Besides the Swift toolchain the tests need Python 3 with python-libsbml, an independent SBML
# reader that validates CARTSim's exported documents. When the `python3` on PATH lacks it, a
# virtual environment is made once in .build/test-python and the tests are pointed at it
# (CARTSIM_PYTHON); nothing is installed outside the repository's .build folder.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CARTSIM_PYTHON:-}" ]; then
  if python3 -c "import libsbml" 2>/dev/null; then
    export CARTSIM_PYTHON=python3
  else
    env=.build/test-python
    if ! "$env/bin/python3" -c "import libsbml" 2>/dev/null; then
      echo "Scripts/test.sh: installing python-libsbml into $env (once)" >&2
      mkdir -p .build
      python3 -m venv "$env" || {
        echo "error: python3 -m venv failed; install Python 3 with venv (Debian: apt install python3-venv) and run again" >&2
        exit 1
      }
      "$env/bin/python3" -m pip install --quiet --disable-pip-version-check python-libsbml
    fi
    export CARTSIM_PYTHON="$PWD/$env/bin/python3"
  fi
fi

# The tests' temporary files (run folders, data folders, compiled models) go to one folder,
# removed when the tests pass and kept for a look when they fail.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cartsim-tests.XXXXXX")
status=0
TMPDIR="$tmp" swift test "$@" || status=$?
if [ "$status" -eq 0 ]; then
  rm -rf "$tmp"
else
  echo "Scripts/test.sh: the tests' temporary files are in $tmp" >&2
fi
exit "$status"
