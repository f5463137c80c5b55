"""Which modules a piece of code loads, seen from a fresh interpreter.

The fixed cost of a short job is mostly imports, so several tests check that a path leaves a heavy
package (scipy, torch) unloaded. Each such check runs its code in a new process, where nothing the
test session imported can hide an import.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence


def modules_loaded_by(code: str, packages: Sequence[str] = ("scipy",)) -> list[str]:
    """The modules of `packages` (the package itself or any submodule) loaded after running `code`."""
    probe = (
        f"{code}\n"
        "import sys as _sys\n"
        f"_wanted = {tuple(packages)!r}\n"
        "print(sorted(m for m in _sys.modules if m.split('.')[0] in _wanted))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return list(eval(result.stdout.strip().splitlines()[-1]))  # a printed list of str
