#!/usr/bin/env bash
# `make core-check`: a fresh virtual environment with the core alone (`pip install asteris`, no extra),
# then asteris info, train and denoise on a small stack, and the size of that install.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv-core}
rm -rf "$venv"
"$python" -m venv "$venv"
# --no-compile: the few commands below import little of what is installed; they compile what they import
# (the whole check took 23 s on 2 cores)
"$venv/bin/python" -m pip install --quiet --no-compile torch==2.13.0
"$venv/bin/python" -m pip install --quiet --no-compile .
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
report=$("$venv/bin/python" tests/core_only/run_core.py "$work" | tail -n 1)
echo "core-only install: $report"
"$venv/bin/python" - "$report" <<'PY'
import json, sys
report = json.loads(sys.argv[1])
assert report["status"] == {"info": 0, "train": 0, "denoise": 0}, report
assert report["output_finite"] and report["optional_imported"] == [], report
for name, said in report["subpackages"].items():
    assert "MissingExtraError" in said and f"asteris[{name}]" in said, (name, said)
print("core-only install: info, train and denoise ran; archive, mock and science each named their extra")
PY
echo "core-only site-packages: $(du -sm "$venv"/lib/python*/site-packages | cut -f1) MB"
