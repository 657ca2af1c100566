#!/usr/bin/env bash
# Gather everything the GPU check needs into bench/gpu/pack/ (under 64 MiB), on a
# machine WITH network, because the GPU machine has none:
#   pack/llama_cpp_python-VER.tar.gz   the llama-cpp-python sdist, trimmed (vendor/llama.cpp
#                                      models/, docs/, tests/, tools other than mtmd/, the
#                                      non-CUDA GPU backends... removed)
#   pack/wheels/*.whl                  cp312 manylinux x86_64 wheels the GPU image lacks
#   pack/MANIFEST.txt                  what is in it, with sizes
# Usage: bench/gpu/prepare.sh [--sdist PATH] [--python PY]
#   --sdist PATH  use this llama-cpp-python sdist instead of downloading one
#   --python PY   the interpreter whose installed versions are pinned (default: .venv/bin/python)
# Then, on the GPU machine: bench/gpu/run.sh   (see bench/gpu/README.md)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PACK="$ROOT/bench/gpu/pack"
PY="$ROOT/.venv/bin/python"
SDIST=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sdist) SDIST="$2"; shift 2;;
    --python) PY="$2"; shift 2;;
    -h|--help) sed -n '2,14p' "$0"; exit 0;;
    *) echo "prepare.sh: unknown argument $1" >&2; exit 2;;
  esac
done
[ -x "$PY" ] || PY="$(command -v python3)"

version_of() { "$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1" 2>/dev/null || true; }

LLAMA_VER="$(version_of llama-cpp-python)"
[ -n "$LLAMA_VER" ] || { echo "prepare.sh: llama-cpp-python is not installed in $PY; pass --python" >&2; exit 2; }

rm -rf "$PACK"
mkdir -p "$PACK/wheels"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- the sdist, trimmed
if [ -z "$SDIST" ]; then
  "$PY" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_VER" -d "$WORK/dl"
  SDIST="$(ls "$WORK"/dl/llama_cpp_python-*.tar.gz)"
fi
echo "sdist: $SDIST ($(du -h "$SDIST" | cut -f1))"
mkdir -p "$WORK/src"
tar -xzf "$SDIST" -C "$WORK/src"
TOP="$(ls "$WORK/src")"
SRC="$WORK/src/$TOP"
V="$SRC/vendor/llama.cpp"
[ -d "$V/ggml/src/ggml-cuda" ] || { echo "prepare.sh: $SDIST has no vendor/llama.cpp/ggml/src/ggml-cuda" >&2; exit 1; }

# llama-cpp-python adds vendor/llama.cpp (not standalone: no tests, tools, examples, server)
# and vendor/llama.cpp/tools/mtmd; ggml adds only the backends that are switched on.
rm -rf "$SRC"/{docs,examples,tests,docker,.github,.git} "$V/.git"
rm -rf "$V"/{models,docs,media,benches,tests,examples,pocs,app,ci,skills,gguf-py,conversion,requirements,.github,.devops}
find "$V/tools" -mindepth 1 -maxdepth 1 ! -name mtmd ! -name CMakeLists.txt -exec rm -rf {} +
for d in "$V"/ggml/src/ggml-*/; do
  case "$(basename "$d")" in ggml-cpu|ggml-cuda) ;; *) rm -rf "$d";; esac
done
find "$SRC" \( -name '*.gguf' -o -name '*.mp4' -o -name '*.mp3' -o -name '*.wav' -o -name '*.png' \
    -o -name '*.jpg' -o -name '*.jpeg' -o -name '*.webp' \) -delete
tar -C "$WORK/src" -czf "$PACK/$TOP.tar.gz" "$TOP"
echo "trimmed sdist: $PACK/$TOP.tar.gz ($(du -h "$PACK/$TOP.tar.gz" | cut -f1))"

# ---------------------------------------------------------------- wheels the GPU image lacks
# The image ('cuda', Python 3.12) has numpy, jinja2, pyyaml, httpx, requests, tqdm, pillow,
# cmake, ninja, packaging, pathspec (see /work/.library/device/KINDS.md); the rest comes here,
# pinned to what chatdev is tested with.
NAMES="pydantic pydantic-core annotated-types typing-inspection typing-extensions gguf diskcache
       docker gitpython gitdb smmap typer annotated-doc shellingham rich markdown-it-py mdurl pygments
       packaging pathspec"
SPECS=""
for n in $NAMES; do
  v="$(version_of "$n")"
  SPECS="$SPECS $n${v:+==$v}"
done
# the build backend of llama-cpp-python and its needs (run.sh builds without build isolation)
SKB="$(version_of scikit-build-core)"
SPECS="$SPECS scikit-build-core${SKB:+==$SKB}"
PLAT=""
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux1_x86_64; do PLAT="$PLAT --platform $p"; done
# shellcheck disable=SC2086
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    $PLAT -d "$PACK/wheels" $SPECS

# ---------------------------------------------------------------- manifest and size check
{
  echo "llama-cpp-python $LLAMA_VER (trimmed sdist) for the CUDA build"
  (cd "$PACK" && find . -type f ! -name MANIFEST.txt -printf '%s\t%p\n' | sort -k2)
} > "$PACK/MANIFEST.txt"
TOTAL=$(du -sb "$PACK" | cut -f1)
echo "pack: $PACK, $((TOTAL / 1048576)) MiB, $(ls "$PACK/wheels" | wc -l) wheels"
if [ "$TOTAL" -gt $((56 * 1048576)) ]; then
  echo "prepare.sh: the pack is over 56 MiB: it and the working tree must travel under 64 MiB" >&2
  exit 1
fi
