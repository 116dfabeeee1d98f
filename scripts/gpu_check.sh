#!/usr/bin/env bash
# GPU checks, for a machine with a CUDA device: the GPU tests, then a quick GPU report at pinned
# precision (float32 and float64) and one with TF32 allowed (float32), each with the GPU precision
# section. Installs nothing (GPU machines may have torch, jax, pytest and hypothesis but no network):
# it runs the repository in place with PYTHONPATH. About 3-5 minutes on one GPU.
#
#   bash scripts/gpu_check.sh [OUT_DIR]      (default gpu-out; PYTHON picks the interpreter, default python3)
#
# Every step runs even when one before it fails; the exit status is that of the first failure.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu-out}"
py="${PYTHON:-python3}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# what references.prepare_gpu_process() sets for report and check: jax allocates GPU memory as needed
# (torch shares the GPU) and picks its GEMM algorithms deterministically (figures repeat)
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
case "${XLA_FLAGS:-}" in
  *xla_gpu_deterministic_ops*) ;;
  *) export XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_gpu_deterministic_ops=true" ;;
esac
status=0
step() {  # step NAME COMMAND...: run, log to $out/NAME.txt, remember the first failure
  local name=$1; shift
  echo "== $name: $*"
  local started=$SECONDS
  "$@" 2>&1 | tee "$out/$name.txt"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit status $rc in $((SECONDS - started)) s"
  if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then status=$rc; fi
}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
step environment "$py" -c 'import json, references; print(json.dumps(references.environment("cuda"), indent=1))'
step gpu-tests "$py" -m pytest tests/test_gpu.py -v -s -p no:cacheprovider --hypothesis-profile=ci
step report-pinned "$py" -m bpcheck.cli report --quick --device cuda --no-plots --out "$out/report-pinned"
step report-tf32 "$py" -m bpcheck.cli report --quick --device cuda --allow-tf32 --dtypes float32 --no-plots \
  --out "$out/report-tf32"
for kind in pinned tf32; do
  if [ -f "$out/report-$kind/report.md" ]; then
    echo "== report-$kind"
    sed -n '/^## Summary/,/^## Worst margins/p;/^## GPU precision/,/^## /p' "$out/report-$kind/report.md"
  fi
done
echo "== gpu_check: exit status $status"
exit "$status"
