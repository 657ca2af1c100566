#!/usr/bin/env bash
# The GPU check, on a machine with an NVIDIA GPU and NO network (see bench/gpu/README.md):
#   1. install the wheels carried in bench/gpu/pack/wheels into $SITE
#   2. build llama-cpp-python with CUDA from the carried trimmed sdist (~4 min on 16 cores)
#   3. run bench/gpu/verify.py: speed through chatdev vs raw llama-cpp-python on a
#      LLaVA-1.5-7B-shaped Q4_K model, prefix cache, vision on the GPU, chatdev doctor
# Usage: bench/gpu/run.sh [--skip-build] [--arch 90] [--small] [-- verify.py arguments...]
#   --skip-build  reuse the llama-cpp-python already in $SITE (a second run on the same machine)
#   --arch N      CMAKE_CUDA_ARCHITECTURES (default: nvidia-smi's compute capability, e.g. 9.0 -> 90)
#   --small       verify.py --small (a tiny model; for a quick look)
# Environment: OUT (results folder, default bench/gpu/out), SITE (default /tmp/chatdev-gpu-site),
#   PYTHON (default python3), PACK (default bench/gpu/pack).
# Exit: 0 all sections ran; 1 a verify section failed; 3 wheels; 4 the CUDA build failed.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PACK="${PACK:-$ROOT/bench/gpu/pack}"
OUTDIR="${OUT:-$ROOT/bench/gpu/out}"
SITE="${SITE:-/tmp/chatdev-gpu-site}"
PY="${PYTHON:-python3}"
ARCH=""
SKIP_BUILD=0
VERIFY_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-build) SKIP_BUILD=1; shift;;
    --arch) ARCH="$2"; shift 2;;
    --small) VERIFY_ARGS+=(--small); shift;;
    --) shift; VERIFY_ARGS+=("$@"); break;;
    -h|--help) sed -n '2,15p' "$0"; exit 0;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2;;
  esac
done
mkdir -p "$OUTDIR" "$SITE"
log() { echo "[run.sh $(date -u +%H:%M:%S)] $*"; }
T_START=$(date +%s)

# ---------------------------------------------------------------- the machine
log "python: $($PY -V 2>&1) at $(command -v "$PY")"
nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version,compute_cap --format=csv,noheader \
  || log "nvidia-smi failed: no usable NVIDIA GPU"
if ! command -v nvcc >/dev/null 2>&1; then
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
    [ -x "$d/nvcc" ] && export PATH="$d:$PATH" && break
  done
fi
if command -v nvcc >/dev/null 2>&1; then
  export CUDACXX="${CUDACXX:-$(command -v nvcc)}"
  log "nvcc: $(nvcc --version | tail -1)"
else
  log "nvcc not found: the CUDA build will fail"
fi
log "cmake: $(cmake --version 2>/dev/null | head -1), ninja: $(ninja --version 2>/dev/null), cores: $(nproc)"

# ---------------------------------------------------------------- 1. wheels
[ -d "$PACK/wheels" ] || { log "no $PACK/wheels: run bench/gpu/prepare.sh on a machine with network first"; exit 3; }
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
  "$PACK"/wheels/*.whl || { log "installing the carried wheels failed"; exit 3; }
export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
log "wheels installed into $SITE: $(ls "$PACK/wheels" | wc -l)"

# ---------------------------------------------------------------- 2. the CUDA build
if [ "$SKIP_BUILD" = 0 ]; then
  if [ -z "$ARCH" ]; then
    ARCH="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
    ARCH="${ARCH:-90}"
  fi
  SDIST="$(ls "$PACK"/llama_cpp_python-*.tar.gz | head -1)"
  export CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=$ARCH -DGGML_CUDA_FA=OFF -DGGML_NATIVE=OFF"
  export CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)"
  log "building $(basename "$SDIST") with CMAKE_ARGS=\"$CMAKE_ARGS\" on $(nproc) cores (log: $OUTDIR/build.log)"
  T0=$(date +%s)
  "$PY" -m pip install --no-index --no-deps --no-build-isolation --no-cache-dir --upgrade --target "$SITE" \
      "$SDIST" > "$OUTDIR/build.log" 2>&1
  RC=$?
  log "build: exit $RC after $(( $(date +%s) - T0 )) s"
  if [ "$RC" != 0 ]; then
    grep -E "error|Error|ERROR" "$OUTDIR/build.log" | head -20
    tail -30 "$OUTDIR/build.log"
    log "the CUDA build of llama-cpp-python failed"
    exit 4
  fi
fi
"$PY" - <<'EOF' || { echo "[run.sh] llama_cpp does not import"; exit 4; }
import llama_cpp
print("[run.sh] llama_cpp", llama_cpp.__version__, "from", llama_cpp.__file__)
print("[run.sh] gpu offload:", bool(llama_cpp.llama_supports_gpu_offload()))
print("[run.sh]", llama_cpp.llama_print_system_info().decode().strip())
EOF

# ---------------------------------------------------------------- 3. verify
log "verify.py ${VERIFY_ARGS[*]:-}"
PYTHONUNBUFFERED=1 "$PY" bench/gpu/verify.py --out "$OUTDIR" "${VERIFY_ARGS[@]}"
RC=$?
log "done in $(( $(date +%s) - T_START )) s, verify exit $RC; results in $OUTDIR"
exit "$RC"
