"""`python -m mytalk.core.runtime`: the runtime process, as the panel and host shims start it.

Started through the interpreter's `-m` rather than the `mytalk` console script: a host
application's PATH may not contain the venv, and the panel (`mytalk.ui`) must not depend on the
command line, which belongs to the host-adapter layer (`mytalk.plugin`). The process is set up as
`mytalk runtime` sets it up: bounded malloc arenas (`mytalk.core.malloc`), one OpenBLAS thread
(`mytalk.core.blas_threads`), MediaPipe's native
chatter kept off stderr (`mytalk.core.native_stderr`: the panel shows the runtime's stderr tail
when it dies, and chatter would push the real error out of it), and stop signals that unwind.

Importing this module starts nothing; only running it as the main module does.
"""

from __future__ import annotations

import sys

from mytalk.core.blas_threads import limit_blas_threads
from mytalk.core.interrupts import Interrupted, stop_on_signals
from mytalk.core.malloc import limit_malloc_arenas
from mytalk.core.native_stderr import filtered_native_stderr
from mytalk.core.runtime.server import main


def run() -> int:
    """Run the runtime until its client shuts it down; returns the process's exit status."""
    limit_malloc_arenas()
    limit_blas_threads()
    try:
        with stop_on_signals(), filtered_native_stderr():
            return main()
    except Interrupted as stop:  # a stop signal while the process set itself up or tore down
        return stop.exit_code


if __name__ == "__main__":
    sys.exit(run())
