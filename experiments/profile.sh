#!/usr/bin/env bash
# Experiment 7, profiling: a short CUDA training run under Nsight Systems (timeline with the NVTX
# ranges "trial N", "epoch E", "step S", "forward", "backward", "update", "evaluate") and under
# Nsight Compute (the hottest kernels of the forward phase). Runs each tool that is installed and
# says plainly which are missing. experiments/README.md explains what to look for.
#
#   bash experiments/profile.sh [--mlptune build/mlptune] [--out out/profile] [--dataset mnist]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$root/build/mlptune"
out="$root/out/profile"
dataset="mnist"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mlptune) binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --dataset) dataset="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "profile.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ ! -x "$binary" ]]; then
  echo "$binary not found: run scripts/build first (or pass --mlptune PATH_TO_BINARY)" >&2
  exit 1
fi
if ! "$binary" devices 2>/dev/null | grep -qv "no CUDA device"; then
  echo "no CUDA device seen by $binary (mlptune devices): profiling needs an NVIDIA GPU and a CUDA build; nothing run"
  exit 0
fi
mkdir -p "$out"
train=("$binary" train --backend cuda --dataset "$dataset" --hidden 256,256 --batch-size 128 --epochs 1 --quiet)
ran=0

if command -v nsys >/dev/null; then
  # The whole run on a timeline; --cuda-graph-trace=node shows the kernels inside each replayed
  # step graph instead of one graph launch per step.
  nsys profile -t cuda,nvtx,cublas --cuda-graph-trace=node --force-overwrite true \
    -o "$out/mlptune-profile" "${train[@]}"
  nsys stats --report nvtx_sum,cuda_gpu_kern_sum --format table "$out/mlptune-profile.nsys-rep" \
    | tee "$out/nsys-summary.txt"
  echo "timeline: $out/mlptune-profile.nsys-rep (open in nsys-ui); summary: $out/nsys-summary.txt"
  ran=1
else
  echo "nsys (Nsight Systems) not found: timeline not recorded"
fi

if command -v ncu >/dev/null; then
  # The forward phase's hottest kernels: cuBLAS GEMMs and the fused bias+activation. The ranges
  # live in the "mlptune" NVTX domain. MLPTUNE_CUDA_GRAPHS=0 issues every step eagerly, so each
  # launch sits inside its "forward" range (graph replays carry only their "step S" range).
  MLPTUNE_CUDA_GRAPHS=0 ncu --nvtx --nvtx-include "mlptune@forward/" \
    -k "regex:gemm|bias_activation|softmax_cross_entropy" --launch-count 20 \
    --section SpeedOfLight --section Occupancy --section MemoryWorkloadAnalysis --section WarpStateStats \
    -f -o "$out/mlptune-kernels" "${train[@]}"
  ncu --import "$out/mlptune-kernels.ncu-rep" --print-summary per-kernel | tee "$out/ncu-summary.txt"
  echo "kernels: $out/mlptune-kernels.ncu-rep (open in ncu-ui); summary: $out/ncu-summary.txt"
  ran=1
else
  echo "ncu (Nsight Compute) not found: kernels not profiled"
fi

if [[ $ran == 0 ]]; then
  echo "neither nsys nor ncu is installed (both come with the CUDA toolkit: /usr/local/cuda/bin); nothing profiled"
fi
