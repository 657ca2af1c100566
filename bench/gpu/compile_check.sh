#!/usr/bin/env bash
# Pre-flight for the GPU run, on a CPU machine with network (no GPU needed): does the trimmed
# llama-cpp-python sdist in bench/gpu/pack/ still configure and compile with CUDA on? A device
# session is short; a trimming mistake (a CMakeLists.txt or header prepare.sh removed) should
# fail here, not there. nvcc, the CUDA headers and libraries come from NVIDIA's PyPI wheels
# (about 560 MB, pip caches them); libcuda.so is a stub, as in the toolkit.
# Usage: bench/gpu/compile_check.sh [--arch 90] [--full]
#   default  cmake configure + three CUDA objects (ggml-cuda.cu, mmvq.cu, mmq.cu); minutes
#   --full   the whole library, as run.sh builds it (1-2 hours on 2 cores)
# Environment: KIT (work folder, default /tmp/chatdev-cuda-kit), PYTHON (default .venv/bin/python).
# Exit: 0 it compiles; 1 it does not (the log says where); 2 usage or missing tools.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
KIT="${KIT:-/tmp/chatdev-cuda-kit}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
ARCH=90
FULL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2;;
    --full) FULL=1; shift;;
    -h|--help) sed -n '2,12p' "$0"; exit 0;;
    *) echo "compile_check.sh: unknown argument $1" >&2; exit 2;;
  esac
done
log() { echo "[compile_check $(date -u +%H:%M:%S)] $*"; }
[ -x "$PY" ] || PY="$(command -v python3)"
for tool in cmake ninja gcc g++ unzip; do
  command -v "$tool" >/dev/null || { echo "compile_check.sh: $tool is not installed" >&2; exit 2; }
done
SDIST="$(ls "$ROOT"/bench/gpu/pack/llama_cpp_python-*.tar.gz 2>/dev/null | head -1)"
[ -n "$SDIST" ] || { echo "compile_check.sh: no sdist in bench/gpu/pack: run bench/gpu/prepare.sh first" >&2; exit 2; }

# ---------------------------------------------------------------- a CUDA toolkit from PyPI
T="$KIT/x/nvidia/cu13"
if [ ! -x "$T/bin/nvcc" ]; then
  log "fetching nvcc and the CUDA headers and libraries from PyPI into $KIT"
  mkdir -p "$KIT/dl" "$KIT/x"
  "$PY" -m pip download --quiet --no-deps -d "$KIT/dl" nvidia-cuda-nvcc nvidia-cuda-runtime nvidia-cublas \
      nvidia-cuda-cccl nvidia-cuda-crt nvidia-nvvm
  for w in "$KIT"/dl/*.whl; do unzip -qo "$w" -d "$KIT/x"; done
fi
[ -x "$T/bin/nvcc" ] || { echo "compile_check.sh: no nvcc in $T (the wheels' layout changed?)" >&2; exit 2; }
for lib in cudart cublas cublasLt; do
  ln -sf "$(basename "$(ls "$T"/lib/lib$lib.so.* | head -1)")" "$T/lib/lib$lib.so"
done
ln -sfn lib "$T/lib64"
mkdir -p "$T/lib/stubs"
if [ ! -f "$T/lib/stubs/libcuda.so" ]; then  # the driver library, as the toolkit's stub: link-time only
  echo 'void cuGetErrorString(void) {}' > "$KIT/stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$T/lib/stubs/libcuda.so" "$KIT/stub.c"
fi
log "nvcc: $("$T/bin/nvcc" --version | tail -1)"

# ---------------------------------------------------------------- configure and compile
rm -rf "$KIT/src" "$KIT/build"
mkdir -p "$KIT/src"
tar -xzf "$SDIST" -C "$KIT/src"
SRC="$(ls -d "$KIT"/src/*/)"
log "configuring $(basename "$SDIST") with CUDA (arch $ARCH), as run.sh does"
# the CMAKE_ARGS of run.sh, plus where this toolkit is
if ! cmake -S "$SRC" -B "$KIT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DGGML_CUDA_FA=OFF -DGGML_NATIVE=OFF \
    -DCUDAToolkit_ROOT="$T" -DCMAKE_CUDA_COMPILER="$T/bin/nvcc" > "$KIT/configure.log" 2>&1; then
  tail -30 "$KIT/configure.log"
  log "FAIL: cmake could not configure the trimmed sdist with CUDA (log: $KIT/configure.log)"
  exit 1
fi
if [ "$FULL" = 1 ]; then
  TARGETS=()
else
  OBJ="vendor/llama.cpp/ggml/src/ggml-cuda/CMakeFiles/ggml-cuda.dir"
  TARGETS=("$OBJ/ggml-cuda.cu.o" "$OBJ/mmvq.cu.o" "$OBJ/mmq.cu.o")
fi
log "compiling ${TARGETS[*]:-everything} on $(nproc) cores (log: $KIT/build.log)"
T0=$(date +%s)
if ! ninja -C "$KIT/build" -j "$(nproc)" "${TARGETS[@]}" > "$KIT/build.log" 2>&1; then
  grep -E "error" "$KIT/build.log" | head -20
  log "FAIL: the CUDA compile broke (log: $KIT/build.log)"
  exit 1
fi
log "PASS: the trimmed sdist configures and compiles with CUDA ($(( $(date +%s) - T0 )) s)"
