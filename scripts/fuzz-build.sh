#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang in their own build
# directory (the main build uses g++).   scripts/fuzz-build.sh [BUILD_DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-fuzz}
cxx=$(command -v clang++-16 || true)
if [ -z "$cxx" ]; then
	echo "fuzz-build: clang++-16 not found (scripts/setup.sh installs clang-16 and libclang-rt-16-dev)" >&2
	exit 77
fi
cmake -S "$src/tests/fuzz/targets" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=None >/dev/null
cmake --build "$build" -j 2 >/dev/null
echo "fuzz-build: $build/fuzz_document $build/fuzz_classify"
