#!/usr/bin/env bash
# Installs the optional llama.cpp peer of `vlkit-bench --only llama` into the bench's Python venv
# (default: the fixture venv tools/fixtures/.venv, made by tools/fixtures/setup_venv.sh; or the
# Python given as the first argument, the same one as `vlkit-bench --torch-python`):
#   - llama-cpp-python, compiled from its PyPI sdist with llama.cpp's CPU backend built for this
#     CPU (GGML_NATIVE=ON, i.e. -march=native; 5–8 minutes on 2 cores, once);
#   - the `gguf` package vendored in the same sdist (the version its converter expects);
#   - llama.cpp's convert_hf_to_gguf.py and its conversion/ package, copied to
#     <venv>/share/llama.cpp/, where the bench's llama.cpp peer looks for them.
# Idempotent: skips the compile when `import llama_cpp` already works at the wanted version
# (FORCE=1 rebuilds). LLAMA_CPP_PYTHON_VERSION overrides the pinned version.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
py="${1:-$repo/tools/fixtures/.venv/bin/python}"
if [ ! -x "$py" ]; then
  if [ -z "${1:-}" ]; then bash "$repo/tools/fixtures/setup_venv.sh"; else echo "no Python at $py" >&2; exit 1; fi
fi
"$py" -c "import torch, transformers, sentencepiece" 2>/dev/null \
  || { echo "$py lacks torch/transformers/sentencepiece: run tools/fixtures/setup_venv.sh first" >&2; exit 1; }
prefix="$("$py" -c 'import sys; print(sys.prefix)')"
share="$prefix/share/llama.cpp"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "downloading the llama-cpp-python $version sdist"
"$py" -m pip download -q --no-deps --no-binary llama-cpp-python "llama-cpp-python==$version" -d "$work"
sdist="$(ls "$work"/llama_cpp_python-*.tar.gz)"
tar xzf "$sdist" -C "$work"
src="$(ls -d "$work"/llama_cpp_python-*/)"

installed="$("$py" -c 'import llama_cpp; print(llama_cpp.__version__)' 2>/dev/null || true)"
if [ "$installed" != "$version" ] || [ -n "${FORCE:-}" ]; then
  echo "compiling llama-cpp-python $version (llama.cpp CPU backend, -march=native; ~5 min on 2 cores)"
  # Only the shared libraries the Python package loads: no tools, tests, examples or server.
  CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_BLAS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$py" -m pip install -q --no-cache-dir --force-reinstall --no-deps "$sdist"
  # Its pure-Python dependencies (numpy, jinja2, diskcache, typing-extensions).
  "$py" -m pip install -q numpy jinja2 "diskcache>=5.6.1" "typing-extensions>=4.5.0"
else
  echo "llama-cpp-python $version already installed (FORCE=1 to rebuild)"
fi

echo "installing gguf and convert_hf_to_gguf.py from the same llama.cpp source into $share"
"$py" -m pip install -q --force-reinstall --no-deps "$src/vendor/llama.cpp/gguf-py"
"$py" -m pip install -q "numpy>=2.2.6" "tqdm>=4.27" "pyyaml>=5.1" "requests>=2.25" "protobuf>=4.21.0"
rm -rf "$share"
mkdir -p "$share"
cp "$src/vendor/llama.cpp/convert_hf_to_gguf.py" "$share/"
cp -r "$src/vendor/llama.cpp/conversion" "$share/"

"$py" - <<'EOF'
import llama_cpp, gguf, sys, os
from importlib.metadata import version
print("llama.cpp peer ready:", "llama-cpp-python", llama_cpp.__version__, "| gguf", version("gguf"),
      "| converter", os.path.join(sys.prefix, "share", "llama.cpp", "convert_hf_to_gguf.py"))
print(llama_cpp.llama_print_system_info().decode())
EOF
