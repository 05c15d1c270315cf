#!/usr/bin/env bash
# Every GPU check in one prepared run (at most about 10 minutes), packed into
# $OUT/gpu-check.tar.gz after each stage, so that a run stopped early keeps what it did.
#
# Prepare on a machine with the package registries, in the repository root:
#   mkdir -p data/fashion-mnist && cp /usr/share/datasets/fashion-mnist/*.gz data/fashion-mnist/
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#       imbalanced-learn==0.14.2 sklearn-compat==0.1.6 scikit-learn==1.9.1
#   python3 -m pip wheel --no-deps -w .whl pykeops==2.3 keopscore==2.3   # source-only on PyPI
#   (both folders are git-ignored; carry them to the GPU machine with the working tree)
# Then on the GPU machine:  OUT=/some/folder bash benchmarks/gpu_check.sh
# Each stage has a time limit (seconds) and its exit status goes to stages.txt.
# DEVICE, PROFILE and SEEDS (default cuda, gpu and 0 1 2) let the script itself be tried on a CPU.
set -uo pipefail
OUT=${OUT:-gpu-check} DEVICE=${DEVICE:-cuda} PROFILE=${PROFILE:-gpu}
WORK=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TORCH_DEEPSMOTE_CACHE=/tmp/torch-deepsmote-cache PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PYTHONPATH
fi

stage() {  # stage NAME LIMIT COMMAND...: run, log, record the status, pack everything so far
    local name=$1 limit=$2
    shift 2
    echo "== $name ($(date -u +%T))"
    timeout "$limit" "$@" 2>&1 | tee "$WORK/$name.log"
    echo "$name rc ${PIPESTATUS[0]}" | tee -a "$WORK/stages.txt"
    tar -czf "$OUT/gpu-check.tar.gz" --exclude="*.pt" -C "$WORK" .
}

stage machine 30 bash -c 'nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv;
    python3 -c "import sys, torch, torchvision, sklearn, imblearn, pykeops, numpy;
print(sys.version); print(torch.__version__, torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name());
print(torchvision.__version__, sklearn.__version__, imblearn.__version__, pykeops.__version__, numpy.__version__)"'
# The package's tests on the GPU; KeOps' own (test_neighbors.py) apart, as a KeOps crash ends the process.
stage tests 80 python3 -m pytest -q -x --device "$DEVICE" tests/test_rendered.py tests/test_step_settings.py \
    tests/test_oversampler.py tests/test_dataset.py tests/test_training.py
stage tests-keops 30 python3 -m pytest -q -x --device "$DEVICE" tests/test_neighbors.py
# Why KeOps crashes on CUDA, and whether a setting avoids it (each attempt at most 30 s).
stage keops-diagnosis 120 env LIMIT=30 bash benchmarks/keops_cuda_diagnosis.sh
# k-NN: KeOps (where it runs) against torch at 10 000 to 1 000 000 latents, d = 128 and 300, k = 5.
for dim in 128 300; do
    stage "knn-d$dim" 45 python3 benchmarks/knn_backends.py --device "$DEVICE" --sizes 10000 100000 1000000 \
        --dim "$dim" --k 5 --budget-s 15 --min-total-s 0.5 --out "$WORK/knn_backends_d$dim"
done
# Generation and epoch overhead at the paper's width: ResNet-18 (small-image stem), 0 and 4 workers,
# epochs rendered ahead on the GPU; pretraining variants as single steps.
stage throughput 90 python3 benchmarks/throughput.py --device "$DEVICE" --root data/fashion-mnist --width 64 \
    --classifier resnet18 --epoch-workers 0 4 --no-slow-variants --knn-budget-s 8 --out "$WORK/throughput"
# Pretraining at the paper's counts (9000 images), per step setting: images/s, held-out MSE, the
# 200-epoch budget's time.
stage fit-settings 120 python3 benchmarks/fit_speed.py --device "$DEVICE" --fashion-mnist data/fashion-mnist \
    --penalties paper --epochs 4 --held-out 0.1 --budget-epochs 200 --out "$WORK/fit_settings.json" \
    --settings default channels-last bf16 channels-last+bf16 channels-last+bf16+compiled
# Larger images: the autoencoder's pretraining speed at 3×128×128 (width 64, 2000 images).
stage fit-128 60 python3 benchmarks/fit_speed.py --device "$DEVICE" --image-shape 3 128 128 --n-images 2000 \
    --penalties none --epochs 3
# COMPARE=1: the comparison resumes from the rows already measured on a GPU (the first run's
# seed 0) and adds the missing ones; what it reaches in its time is kept.
if [ "${COMPARE:-0}" = 1 ]; then
    mkdir -p "$WORK/compare"
    [ "$PROFILE" = gpu ] && cp benchmarks/results/gpu/runs.jsonl "$WORK/compare/"
    stage compare 270 python3 benchmarks/compare.py --profile "$PROFILE" --device "$DEVICE" --root data/fashion-mnist \
        --out "$WORK/compare" --seeds ${SEEDS:-0 1 2} \
        --methods "DeepSMOTE (default)" "random oversampling" SMOTE none "DeepSMOTE (paper penalty)"
fi
