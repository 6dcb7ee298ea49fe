#!/usr/bin/env bash
# CUDA checks for the lip-sync engine, in about 10 minutes on one GPU:
#   1. which GPU (nvidia-smi), torch and CUDA versions,
#   2. the CUDA tests (pytest -m cuda), among them `auto` = fp16 within the fidelity bound,
#   3. the engine at 720p and 1080p in precision auto (fp16, measured against fp32 on
#      the calibration crops), batch sizes 16..256 and the engine's own choice
#      (bench_gpu_sweep.py; random Wav2Lip weights unless CHECKPOINT is set; the HD
#      lip-sync model too once it is in lipdub, its test weights built here),
#   4. the end-to-end benchmark against the original algorithm (10 s and 60 s 720p),
#   5. MuseTalk 1.5 (#28) fp16 batched at 720p against wav2lip_gan, and its fp16 faces
#      against fp32 (TF32 off, bound 35 dB); the parity kit's weights are built here
#      (about 30 s, 3.6 GB; tests/test_musetalk_cuda.py in step 2 builds them first).
# Results: printed, and written to $OUT (or benchmarks/) as bench_gpu_sweep.json and
# bench_lipsync_cuda.json. Record the card (step 1) beside every number.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-benchmarks}"
mkdir -p "$OUT_DIR"
export LIPDUB_CACHE="${LIPDUB_CACHE:-$(mktemp -d)/lipdub-cache}"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"

timeout 240 python -m pytest -q -m cuda -p no:cacheprovider tests/ || echo "CUDA TESTS FAILED (rc=$?)"

SWEEP=(--device cuda --sizes 1280x720,1920x1080 --batches 16,32,64,128,256,auto --seconds 10 --hd
       --json "$OUT_DIR/bench_gpu_sweep.json")
if [[ -n "${CHECKPOINT:-}" ]]; then SWEEP+=(--checkpoint "$CHECKPOINT"); fi
timeout 300 python benchmarks/bench_gpu_sweep.py "${SWEEP[@]}" || echo "SWEEP FAILED (rc=$?)"

ARGS=(--device cuda --short 10 --long 60 --s3fd-samples 10 --json "$OUT_DIR/bench_lipsync_cuda.json")
if [[ -n "${CHECKPOINT:-}" ]]; then ARGS+=(--checkpoint "$CHECKPOINT"); fi
timeout 240 python benchmarks/bench_lipsync.py "${ARGS[@]}" || echo "BENCH FAILED (rc=$?)"

MT=(--device cuda --frames 250 --weights "$LIPDUB_CACHE/musetalk-test-weights"
    --json "$OUT_DIR/bench_musetalk_cuda.json")
timeout 300 python benchmarks/bench_musetalk.py "${MT[@]}" || echo "MUSETALK BENCH FAILED (rc=$?)"
