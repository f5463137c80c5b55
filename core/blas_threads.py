"""One OpenBLAS thread per MyTalk process: its parallelism is its own processes and threads.

A cold preview runs three busy processes on the cores: the face tracker and the runtime's two phone
workers (`mytalk.core.audio.phone_workers`), and the runtime renders on paint threads of its own. numpy's
OpenBLAS starts a thread per core for every large enough product or decomposition, and on cores already
busy those threads wait on each other: the actor fit's SVD (200 × 600) took 45 ms of wall time and 64 ms of
CPU with two threads while one core was busy, 12.6 ms single-threaded. Measured through the real runtime
on two cores (session 24, four runs each): a never-seen 8 s clip's cold preview reached its first frame in
3.39 s (median) where it took 3.77 s, the 60 s clip in 7.28 s where it took 7.46 s, and `mytalk sync` of the
README's 5 s range took 9.8-10.0 s where it took 10.4-10.7 s, every frame the same.

Only OpenBLAS is limited: torch's own thread pool, which the neural engine relies on, is left as it is. A
user's own `OPENBLAS_NUM_THREADS` wins. The environment variable is set as well as the loaded libraries
limited: a library loaded later (scipy's own OpenBLAS) and the processes a job spawns read it.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

ENV = "OPENBLAS_NUM_THREADS"


def limit_blas_threads(threads: int = 1) -> bool:
    """Use `threads` OpenBLAS threads in this process and its children, unless the user set `ENV`; True
    when the limit was applied (False: the user's setting stands)."""
    if ENV in os.environ:
        return False
    os.environ[ENV] = str(threads)
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # an install without it: the variable still reaches what loads OpenBLAS later
        log.info("threadpoolctl is missing; OpenBLAS already loaded keeps its threads")
        return True
    ThreadpoolController().select(internal_api="openblas").limit(limits=threads)
    return True
