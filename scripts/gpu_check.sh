#!/usr/bin/env bash
# GPU checks, for a machine with a CUDA device: the GPU tests and a small GPU report, TF32 drift included.
# Installs nothing (the GPU machines have torch, jax, pytest and hypothesis but no network): it runs the
# repository in place with PYTHONPATH. Takes a few minutes on one GPU. Results land in ${OUT:-gpu-out}.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-out}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python - <<'PY' | tee "$out/environment.json"
import json, references
print(json.dumps(references.environment("cuda"), indent=1, default=str))
PY
python -m pytest tests/test_gpu.py -q -s -p no:cacheprovider --hypothesis-profile=ci 2>&1 | tee "$out/gpu-tests.txt"
python -m bpcheck.cli report --quick --device cuda --no-plots --out "$out/report-pinned" --dtypes float32,float64 \
  || echo "report (pinned precision) exit status $?"
python -m bpcheck.cli report --quick --device cuda --allow-tf32 --no-plots --out "$out/report-tf32" --dtypes float32 \
  || echo "report (TF32) exit status $?"
grep -h -A12 "^## Summary" "$out"/report-*/report.md | tee "$out/summaries.txt"
