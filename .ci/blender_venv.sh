#!/usr/bin/env bash
# Creates .venv-blender beside .venv with Blender as a Python module (PyPI `bpy`), for the test that
# registers our sequencer extension in the real Blender and renders with it
# (tests/test_hosts_blender.py). bpy pins its own numpy and needs a Python of exactly its build's
# version, so it lives apart from .venv and never shares its packages. Safe to run again: an
# existing .venv-blender that imports bpy is left as it is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# 5.0.1 is the newest bpy built for Python 3.11 (5.1 moved to 3.13); the extension itself targets 4.2+.
bpy_version="${MYTALK_BPY_VERSION:-5.0.1}"

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_bin="$candidate"; break
    fi
  done
fi
[ -n "$python_bin" ] || { echo "blender_venv.sh: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 2; }

if [ -x .venv-blender/bin/python ] && .venv-blender/bin/python -c "import bpy" >/dev/null 2>&1; then
  echo "blender_venv.sh: .venv-blender already has bpy" >&2
  exit 0
fi
[ -x .venv-blender/bin/python ] || "$python_bin" -m venv .venv-blender
pip=(.venv-blender/bin/python -m pip --quiet --disable-pip-version-check)
"${pip[@]}" install --upgrade pip
"${pip[@]}" install "bpy==${bpy_version}"
.venv-blender/bin/python -c "import bpy; print('blender_venv.sh: bpy', bpy.app.version_string)" >&2 \
  || { echo "blender_venv.sh: bpy does not import; see the messages above" >&2; exit 1; }
