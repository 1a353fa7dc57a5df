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
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing "$@"
