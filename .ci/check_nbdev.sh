#!/usr/bin/env bash
# Fail if a notebook is not clean (nbdev_clean would change it) or cube_nb/ differs from what nbdev_export writes.
set -uo pipefail
BIN=${1:-.venv/bin}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp -r nbs "$tmp/nbs"; cp -r cube_nb "$tmp/cube_nb"
"$BIN/nbdev_clean" >/dev/null && "$BIN/nbdev_export" >/dev/null || { echo "nbdev_clean / nbdev_export failed"; exit 1; }
fail=0
if ! diff -r -q -x __pycache__ -x .ipynb_checkpoints "$tmp/nbs" nbs; then
  echo "FAIL: notebooks were not clean; nbdev_clean has now cleaned them: review and commit"; fail=1; fi
if ! diff -r -q -x __pycache__ "$tmp/cube_nb" cube_nb; then
  echo "FAIL: cube_nb/ did not match the notebooks; nbdev_export has now rewritten it: review and commit"; fail=1; fi
[ $fail -eq 0 ] && echo "notebooks clean, cube_nb/ matches the notebooks"
exit $fail
