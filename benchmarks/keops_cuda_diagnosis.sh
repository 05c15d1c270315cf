#!/usr/bin/env bash
# Why pykeops dies on CUDA, and whether a setting on our side avoids it: run on a GPU machine
# (benchmarks/gpu_check.sh calls it). Each attempt runs pykeops' own test_torch_bindings() in a
# fresh process with a fresh build folder and its own time limit, and prints its exit status.
#
# What it records: the CUDA libraries on the machine and those torch ships; which libnvrtc and
# libcuda KeOps' JIT engine links to and which ones the crashing process has loaded; a native
# backtrace under gdb (where gdb is installed); then the attempts:
#   default             KeOps as installed
#   torch-nvrtc-first   torch's own libnvrtc (nvidia wheels) first on LD_LIBRARY_PATH, so the
#                       process loads a single nvrtc, the one torch uses
#   cuda-home           CUDA_HOME / CUDA_PATH set to the machine's toolkit (/usr/local/cuda*)
# Usage: OUT=folder bash benchmarks/keops_cuda_diagnosis.sh   (prints to stdout; a line
# "attempt NAME rc N" per attempt, rc 0 meaning that KeOps ran on the GPU).
set -uo pipefail
LIMIT=${LIMIT:-90}
TEST='import torch, pykeops; print(torch.__version__, torch.version.cuda, pykeops.__version__); pykeops.test_torch_bindings()'

echo "== CUDA libraries on the machine"
ls -d /usr/local/cuda* 2>/dev/null
ldconfig -p 2>/dev/null | grep -E "libnvrtc|libcuda\.so" | head -n 20
TORCH_NVIDIA=$(python3 -c "import os, torch; print(os.path.join(os.path.dirname(os.path.dirname(torch.__file__)), 'nvidia'))")
find "$TORCH_NVIDIA" -name "libnvrtc*.so*" 2>/dev/null | head -n 10
NVRTC_DIR=$(dirname "$(find "$TORCH_NVIDIA" -name "libnvrtc.so*" 2>/dev/null | head -n 1)" 2>/dev/null)
echo "torch's libnvrtc folder: ${NVRTC_DIR:-none}"

attempt() {  # attempt NAME [ENV=VALUE ...]: a fresh build folder, the test, its exit status
    local name=$1
    shift
    local build
    build=$(mktemp -d)
    echo "== attempt $name ($*)"
    env "$@" KEOPS_CACHE_FOLDER="$build" PYKEOPS_VERBOSE=1 timeout "$LIMIT" \
        python3 -X faulthandler -c "$TEST" 2>&1 | tail -n 40
    local rc=${PIPESTATUS[0]}
    echo "-- libraries the JIT engine links to:"
    find "$build" -name "*.so" -exec ldd {} \; 2>/dev/null | grep -E "nvrtc|cuda" | sort -u
    echo "attempt $name rc $rc"
}

attempt default
[ -n "${NVRTC_DIR:-}" ] && attempt torch-nvrtc-first LD_LIBRARY_PATH="$NVRTC_DIR:${LD_LIBRARY_PATH:-}"
CUDA_DIR=$(ls -d /usr/local/cuda* 2>/dev/null | head -n 1)
[ -n "$CUDA_DIR" ] && attempt cuda-home CUDA_HOME="$CUDA_DIR" CUDA_PATH="$CUDA_DIR"

echo "== the libraries a crashing process has loaded, and a native backtrace"
if command -v gdb >/dev/null 2>&1; then
    timeout "$LIMIT" gdb -batch -ex run -ex bt -ex "info sharedlibrary" --args python3 -c "$TEST" 2>&1 \
        | grep -E "^#|nvrtc|libcuda|signal|SIGSEGV" | head -n 60
else
    echo "gdb: not installed"
fi
