#!/usr/bin/env bash
# Run the C kernel's tests under AddressSanitizer and UndefinedBehaviorSanitizer (GCC, Linux).
#
#   bash tools/sanitize_ckernel.sh            # from the repository root, after `pip install -e .`
#
# Builds src/dpa/_ckernel.c with -fsanitize=address,undefined in place of the installed
# module, runs the core tests with the sanitizer runtimes preloaded (any finding aborts the
# run), then rebuilds the normal module. Tests that read RSS are left out: ASan's quarantine
# keeps freed memory resident on purpose.
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
INC=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
SO=$(ls src/dpa/_ckernel*.so)
trap '"$PY" -m pip install -e . -q --no-deps' EXIT
gcc -shared -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -ffp-contract=off -fno-math-errno -fno-trapping-math -std=c99 -I"$INC" src/dpa/_ckernel.c -o "$SO"
ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=1 \
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
    "$PY" -m pytest -q -p no:cacheprovider tests/dpa tests/test_errors.py tests/test_readme.py \
    -k "not memory and not torchrun and not cache_mb"
