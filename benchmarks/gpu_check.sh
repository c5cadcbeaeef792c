#!/usr/bin/env bash
# The checks and timings that need one CUDA GPU, in one run:
#   1. the GPU tests (tests/gpu: parity with the reference on CUDA, CPU/GPU agreement, CUDA-graph recurrence);
#   2. LM training throughput (benchmarks/lm_throughput.py: ours vs char CNN + fused nn.LSTM) and biLM inference
#      speed (benchmarks/bilm_inference.py: ours vs fused nn.LSTM), each once with the step-loop recurrence
#      (ELMO_LAB_RECURRENCE=loop) and once with CUDA graphs (ELMO_LAB_RECURRENCE=graph).
# Everything is written to the folder given as $1 (default gpu_results/); summary.txt collects the ratios.
#
#     bash benchmarks/gpu_check.sh [out_dir]
set -uo pipefail

out="${1:-gpu_results}"
mkdir -p "$out" && out="$(cd "$out" && pwd)"
cd "$(dirname "$0")/.."

if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: torch sees no CUDA device; these checks need one" >&2
    exit 2
fi
{
    date -u
    git rev-parse HEAD 2>/dev/null
    python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))"
    nvidia-smi 2>/dev/null
} > "$out/environment.txt"

failed=0
echo "== pytest tests/gpu"
python -m pytest -q -rs tests/gpu 2>&1 | tee "$out/pytest_gpu.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1

for backend in loop graph; do
    for bench in lm_throughput bilm_inference; do
        echo "== $bench --device cuda, ELMO_LAB_RECURRENCE=$backend"
        ELMO_LAB_RECURRENCE=$backend python "benchmarks/$bench.py" --device cuda 2>&1 | tee "$out/${bench}_$backend.txt"
        [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
    done
done

{
    echo "tests/gpu: $(tail -n 1 "$out/pytest_gpu.txt")"
    for backend in loop graph; do
        echo "-- ELMO_LAB_RECURRENCE=$backend"
        grep -h "^ratio" "$out/lm_throughput_$backend.txt" "$out/bilm_inference_$backend.txt"
    done
} | tee "$out/summary.txt"
exit $failed
