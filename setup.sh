#!/usr/bin/env bash
# Creates .venv beside this file with MyTalk and everything it needs, from the package registries
# only. Safe to run again: an existing .venv is reused and brought up to date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_bin="$candidate"; break
    fi
  done
fi
[ -n "$python_bin" ] || { echo "setup.sh: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 2; }

[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
pip=(.venv/bin/python -m pip --quiet --disable-pip-version-check)
"${pip[@]}" install --upgrade pip
# torch==2.13.0 and PySide6 6.11.3 are pinned in pyproject.toml: an unpinned torch pulls CUDA
# wheels, and PySide6 6.12.0 crashes on Python 3.11.
# [cluster] is Ray, for `mytalk batch --cluster ray` and its tests (a plain install leaves it out).
# constraints.txt holds every other package at the version the tests last passed with: a new release on
# the registry never changes a fresh machine's environment unseen.
"${pip[@]}" install -c constraints.txt -e ".[test,cluster]"
# mediapipe 0.10.21 is the newest release with the face-mesh models; its declared pins would
# downgrade numpy and opencv, so it goes in without them (its real needs are in pyproject.toml).
"${pip[@]}" install --no-deps "mediapipe==0.10.21"
.venv/bin/python -c "import mediapipe, torch, PySide6, av, cv2; import mytalk.core" \
  || { echo "setup.sh: the environment does not import; see the messages above" >&2; exit 1; }
echo "setup.sh: ready (.venv/bin/mytalk)" >&2
