#!/usr/bin/env bash
# Every GPU check in one prepared run (about 8 minutes on one H100), writing to $OUT.
#
# Prepare on a machine with the package registries, in the repository root:
#   mkdir -p data/fashion-mnist && cp /usr/share/datasets/fashion-mnist/*.gz data/fashion-mnist/
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d .whl imbalanced-learn pykeops keopscore
#   (both folders are git-ignored; carry them to the GPU machine with the working tree)
# Then on the GPU machine:  OUT=/some/folder bash benchmarks/gpu_check.sh
set -euo pipefail
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TORCH_DEEPSMOTE_CACHE=/tmp/torch-deepsmote-cache PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
nvidia-smi -L | tee "$OUT/gpu.txt"
python3 -m pytest -q -x --device cuda tests/test_oversampler.py tests/test_dataset.py tests/test_neighbors.py \
    tests/test_training.py 2>&1 | tail -n 30 | tee "$OUT/tests-cuda.txt"
python3 benchmarks/knn_backends.py --device cuda --budget-s 30 --out "$OUT/knn_backends_cuda"
python3 benchmarks/throughput.py --device cuda --root data/fashion-mnist --width 64 --out "$OUT/throughput_cuda"
python3 benchmarks/compare.py --profile gpu --device cuda --root data/fashion-mnist --out "$OUT/compare" \
    --methods none "random oversampling" SMOTE "DeepSMOTE (default)" "DeepSMOTE (interpolation)" "DeepSMOTE (paper penalty)"
