#!/usr/bin/env bash
# GPU readiness in one command (at most ~5 minutes): the gpu-marked tests and the epoch benchmark
# on CUDA (1 and 64 runs, mlp and cnn), every result written to the folder given as argument.
#
#   bench/gpu_check.sh RESULTS_DIR
#
# Run from the repository root with the project's Python first on PATH (or PYTHON=...). Exits
# non-zero when CUDA is absent, a GPU test fails or a benchmark fails; each step's output is in
# RESULTS_DIR/<step>.txt, the benchmark figures also as RESULTS_DIR/epoch_speed_<model>.json.
set -u -o pipefail

out="${1:?usage: bench/gpu_check.sh RESULTS_DIR}"
mkdir -p "$out"
py="${PYTHON:-python}"
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"
status=0

step() {  # step NAME SECONDS COMMAND...: run with a time limit, tee to NAME.txt, remember failure
  local name="$1" limit="$2"
  shift 2
  echo "== $name: $*" | tee "$out/$name.txt"
  timeout "$limit" "$@" 2>&1 | tee -a "$out/$name.txt"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc" | tee -a "$out/$name.txt"
  [ "$rc" -eq 0 ] || status=1
}

step environment 30 "$py" -c "import torch, platform; print(platform.platform()); \
print('torch', torch.__version__, 'cuda', torch.version.cuda); \
print('device', torch.cuda.get_device_name() if torch.cuda.is_available() else 'NO CUDA'); \
raise SystemExit(0 if torch.cuda.is_available() else 1)"
[ "$status" -eq 0 ] || { echo "no CUDA here: nothing to check" >&2; exit 1; }
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true

step gpu_tests 120 "$py" -m pytest -q -p no:cacheprovider -m gpu tests
step bench_mlp 75 "$py" bench/epoch_speed.py --model mlp --device cuda --repeat 1 \
  --gpu-runs 64 --json "$out/epoch_speed_mlp.json"
step bench_cnn 75 "$py" bench/epoch_speed.py --model cnn --device cuda --repeat 1 \
  --gpu-runs 64 --json "$out/epoch_speed_cnn.json"
echo "results in $out (exit $status)"
exit "$status"
