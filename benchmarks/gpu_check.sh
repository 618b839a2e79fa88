#!/usr/bin/env bash
# The one GPU check of the torch side (issue 4), run from the repository root on a CUDA machine:
#
#     bash benchmarks/gpu_check.sh
#
# Needs Fashion-MNIST's four .gz files in ./data/fashion-mnist/ (or CNNLAB_DATA pointing at a
# folder holding fashion-mnist/) and a python3 with torch (CUDA), numpy, matplotlib, scikit-learn,
# tqdm and pytest. Writes into $OUT (default ./gpu_out), six files:
#   env.txt                    nvidia-smi, python/torch versions, missing packages
#   pytest_cuda.txt            the torch tests with CNNLAB_DEVICE=cuda
#   train_lenet_cuda_speed.json  LeNet-5, 10 epochs at batch 512: fit with CUDA graphs, fit without,
#                              the hand-written loop (each side twice, alternating)
#   train_lenet_cuda.json      LeNet-5 with the accuracy recipe (Adam 1e-3, batch 128, 15 epochs)
#   vgg_bn_cuda.json           the best small network (VGG-style + batch norm), 8 epochs
#   bench_stderr.txt           the benchmarks' stderr
# Expected run time: about 4 minutes; every step has its own timeout (at most 11 minutes in all).
set -uo pipefail
OUT="${OUT:-$PWD/gpu_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export CNNLAB_DATA="${CNNLAB_DATA:-$PWD/data}"
export PYTHONUNBUFFERED=1

{
  echo "== nvidia-smi"
  nvidia-smi || echo "nvidia-smi failed"
  echo "== python and torch"
  "$PY" -c "import sys, torch; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'available', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
  if ! "$PY" -c "import cnnlab" 2>/dev/null; then
    "$PY" -m pip install -e . --no-deps --no-build-isolation -q 2>&1 | tail -n 3
  fi
  if ! "$PY" -c "import cnnlab" 2>/dev/null; then
    echo "pip install -e . failed: using PYTHONPATH=$PWD"
  fi
  "$PY" - <<'EOF'
import importlib.util
missing = [m for m in ("numpy", "torch", "matplotlib", "sklearn", "tqdm", "pytest", "threadpoolctl", "IPython")
           if importlib.util.find_spec(m) is None]
print("missing python packages:", missing or "none")
EOF
  ls -l "$CNNLAB_DATA/fashion-mnist" || echo "no Fashion-MNIST under CNNLAB_DATA=$CNNLAB_DATA"
} 2>&1 | tee "$OUT/env.txt"
"$PY" -c "import cnnlab" 2>/dev/null || export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

echo "== torch tests on CUDA"
CNNLAB_DEVICE=cuda timeout 240 "$PY" -m pytest tests/test_nets.py tests/test_nets_batchnorm.py tests/test_train.py \
  -q -p no:cacheprovider -rs --durations=8 2>&1 | tee "$OUT/pytest_cuda.txt"

summarize() {
  "$PY" - "$1" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))["lenet"]
except Exception as err:
    sys.exit(f"no result in {sys.argv[1]}: {err}")
print(f"{r['epochs']} epochs, batch {r['batch_size']}, {r['optimizer']} lr {r['lr']}, repeats {r.get('repeats', 1)}")
for key in (k for k in ("hand_loop", "fit", "fit_without_cuda_graphs") if k in r):
    print(f"  {key:<24} {r[key]['total_seconds']:7.3f} s, test acc {r[key]['test_acc']:.4f}, "
          f"all runs {[round(t, 3) for t in r[key].get('total_seconds_all', [])]}")
print(f"  fit / hand loop {r['fit_over_hand']:.3f}; fit setup (graph capture) {r['fit']['setup_seconds']:.2f} s; "
      f"graphs used: {r['fit']['cuda_graphs']}")
EOF
}

echo "== LeNet-5 speed: 10 epochs, batch 512"
timeout 120 "$PY" benchmarks/train_lenet.py --device cuda --epochs 10 --batch-size 512 --lr 3e-3 --repeats 2 --json \
  > "$OUT/train_lenet_cuda_speed.json" 2>> "$OUT/bench_stderr.txt"
echo "exit $?"
summarize "$OUT/train_lenet_cuda_speed.json"

echo "== LeNet-5 accuracy recipe: 15 epochs, batch 128"
timeout 180 "$PY" benchmarks/train_lenet.py --device cuda --json \
  > "$OUT/train_lenet_cuda.json" 2>> "$OUT/bench_stderr.txt"
echo "exit $?"
summarize "$OUT/train_lenet_cuda.json"

echo "== best small network (VGG-style + BN), 8 epochs"
timeout 120 "$PY" benchmarks/train_lenet.py --device cuda --no-lenet --net vgg-bn --net-epochs 8 --json \
  > "$OUT/vgg_bn_cuda.json" 2>> "$OUT/bench_stderr.txt"
echo "exit $?"
"$PY" -c "import json,sys; r=json.load(open(sys.argv[1]))['net']; print('test acc', r['test_acc'], 'seconds', round(r['total_seconds'], 1))" \
  "$OUT/vgg_bn_cuda.json" || true
