#!/usr/bin/env bash
# The paper-size question on one lent CUDA GPU, in 10 minutes at most (benchmarks/device_check.py):
# the `paper` preset trained for 4 minutes on the reference fields, evaluated under both protocols,
# and an 8 x 4096 x 4096 stack denoised in float32, bf16 and bf16 compiled.
#
#   bash benchmarks/device_check.sh              # on the GPU machine; writes benchmarks/results/device_check.json
#   bash benchmarks/device_check.sh --dry-run    # on any CPU, toy sizes, in about a minute: checks the script
#
# Extra arguments go to device_check.py (e.g. --out FILE, --work DIR). PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
if [[ "${1:-}" == "--dry-run" ]]; then
    exec timeout 600 "$python" benchmarks/device_check.py "$@"
fi
"$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU: use --dry-run')"
export ASTERIS_DATA_DIR=${ASTERIS_DATA_DIR:-$PWD/device_check_runs/data}
exec timeout 570 "$python" benchmarks/device_check.py --train-seconds 240 "$@"
