"""Process-level set-up of the command line: bounded malloc arenas and filtered native stderr."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mytalk.core.malloc import limit_malloc_arenas
from mytalk.core.native_stderr import is_chatter

CHATTER = (
    "W0000 00:00:1795274122.946045   17404 inference_feedback_manager.cc:114] Feedback manager requires a model "
    "with a single signature inference. Disabling support for feedback tensors."
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_the_malloc_arena_limit_is_accepted_by_glibc() -> None:
    assert limit_malloc_arenas() is True


def test_known_native_chatter_is_recognised_and_errors_are_not() -> None:
    assert is_chatter(CHATTER.encode())
    assert is_chatter(b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert is_chatter(b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    assert not is_chatter(b"E0000 00:00:1795274122.946045   17404 calculator_graph.cc:887] INTERNAL: failed\n")
    assert is_chatter(b'ERROR: "state_align_search.c", line 236: Alignment failed in frame 49\n')
    assert is_chatter(b'ERROR: "fsg_search.c", line 944: Final result does not match the grammar in frame 199\n')
    assert not is_chatter(b'ERROR: "acmod.c", line 83: Folder does not contain acoustic model definition\n')
    assert not is_chatter(b"mytalk: error: video not found: x.mp4\n")
    assert not is_chatter(b"Segmentation fault\n")


def test_native_writes_to_fd_2_are_filtered_and_everything_else_passes_whole() -> None:
    """Run in a child: the filter swaps the process's fd 2, which pytest's capture also uses."""
    script = (
        "import os, sys\n"
        "from mytalk.core.native_stderr import filtered_native_stderr\n"
        "with filtered_native_stderr():\n"
        "    for i in range(200):\n"
        f"        os.write(2, {CHATTER.encode()!r} + b'\\n')\n"
        "        os.write(2, b'native error %d: disk full\\n' % i)\n"
        "        print(f'python message {i}', file=sys.stderr)\n"
        "print('after the block', file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    lines = done.stderr.splitlines()
    # Every line arrives whole (a native line and a Python line never share one), chatter is gone,
    # and the block's native lines are all out before the process goes on.
    expected = {f"native error {i}: disk full" for i in range(200)} | {f"python message {i}" for i in range(200)}
    assert set(lines[:-1]) == expected and len(lines) == 401 and lines[-1] == "after the block"


def test_the_entry_points_give_openblas_one_thread_unless_the_user_chose() -> None:
    """`mytalk` and the runtime limit OpenBLAS to one thread (`blas_threads`), in themselves and in the
    processes they spawn; a user's own OPENBLAS_NUM_THREADS wins. Run in children: the limit is per process."""
    import ast
    import os

    script = (
        "import os, sys\n"
        "import numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from mytalk.core.blas_threads import limit_blas_threads\n"
        "applied = limit_blas_threads()\n"
        "blas = [i['num_threads'] for i in threadpool_info() if i['internal_api'] == 'openblas']\n"
        "print(applied, os.environ['OPENBLAS_NUM_THREADS'], blas)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    applied, variable, threads = out.split(" ", 2)
    assert (applied, variable) == ("True", "1")
    assert set(ast.literal_eval(threads)) == {1}, out  # numpy's own OpenBLAS, limited
    env["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split(" ", 2)[:2] == ["False", "2"]
