#!/usr/bin/env bash
# CUDA checks for the lip-sync engine, in a few minutes on one GPU:
#   1. which GPU (nvidia-smi),
#   2. the CUDA tests (pytest -m cuda),
#   3. the end-to-end lip-sync benchmark on CUDA (ours vs the original algorithm,
#      10 s and 60 s 720p clips, Wav2Lip random weights unless CHECKPOINT is set).
# Results: printed, and written to $OUT (or benchmarks/) as bench_lipsync_cuda.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-benchmarks}"
mkdir -p "$OUT_DIR"

nvidia-smi --query-gpu=name --format=csv
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"

timeout 240 python -m pytest -q -m cuda -p no:cacheprovider tests/ || echo "CUDA TESTS FAILED (rc=$?)"

ARGS=(--device cuda --short 10 --long 60 --s3fd-samples 10 --json "$OUT_DIR/bench_lipsync_cuda.json")
if [[ -n "${CHECKPOINT:-}" ]]; then ARGS+=(--checkpoint "$CHECKPOINT"); fi
timeout 420 python benchmarks/bench_lipsync.py "${ARGS[@]}"
