#!/usr/bin/env bash
# The README's test command: builds optimised (numeric tests are slow in debug builds) and runs
# every test. Needs only the Swift toolchain; the parity fixtures are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing "$@"
