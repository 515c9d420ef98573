#!/usr/bin/env bash
# Build the documentation site, warnings as errors: bash docs/site/build.sh [OUT]  (OUT defaults to build/docs).
# Needs the `docs` extra (pip install -e '.[docs]'). The quick examples run during the build; set
# PPSOLVE_THREADS / OMP_NUM_THREADS as for the tests. Extra arguments after OUT go to sphinx-build
# (e.g. -E to reread every source).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build/docs}
shift || true

export MPLBACKEND=${MPLBACKEND:-Agg}
start=$SECONDS
# -W: warnings are errors; --keep-going: report all of them before failing; -n would add nitpicky missing-
# reference warnings for every type in a signature that is not documented here (numpy, torch): off.
python -m sphinx -W --keep-going -b html -d "$out/.doctrees" "$@" "$here" "$out"
echo "== docs built in $((SECONDS - start)) s: $out/index.html"
