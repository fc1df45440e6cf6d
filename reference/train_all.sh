#!/usr/bin/env bash
# Train every reference model one after the other (logs in reference/logs/).
#   reference/train_all.sh [MNIST_DIR] [CIFAR_ZIP] [THREADS] [MODEL...]
# Run from the repository root with the training venv (.venv-train, Python 3.11).
set -euo pipefail
# The training sets are not in the repository: name them, or the folder holding both in
# PODIUM_DATASETS (mnist/ and cifar10-jpeg.zip).
MNIST=${1:-${PODIUM_DATASETS:?name MNIST_DIR or set PODIUM_DATASETS}/mnist}
CIFAR=${2:-${PODIUM_DATASETS:?name CIFAR_ZIP or set PODIUM_DATASETS}/cifar10-jpeg.zip}
THREADS=${3:-2}
shift 3 2>/dev/null || shift $#
PY=${PY:-.venv-train/bin/python}
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  MODELS=(mnist_logreg mnist_mlp_50 mnist_mlp_500x2 mnist_mlp_512x3 mnist_cnn_shallow
          mnist_lenet_small mnist_cnn_deep_6k mnist_cnn_deep cifar10_logreg cifar10_cnn_bn)
fi
mkdir -p reference/logs
for m in "${MODELS[@]}"; do
  case $m in cifar*) data=$CIFAR ;; *) data=$MNIST ;; esac
  echo "== $m"
  PYTHONPATH=. "$PY" -m reference.train "$m" --data "$data" --threads "$THREADS" --resume \
    > "reference/logs/$m.log" 2>&1 || { echo "$m failed, see reference/logs/$m.log"; exit 1; }
  grep -E "exported" "reference/logs/$m.log" || true
done
PYTHONPATH=. "$PY" -m reference.numpy_mlp --data "$MNIST" --epochs 10 > reference/logs/numpy_mlp.log 2>&1
tail -1 reference/logs/numpy_mlp.log
