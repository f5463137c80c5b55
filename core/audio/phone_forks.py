"""One phone-timing process that loads the decoders once and runs every task in a fork of itself (Linux).

`PhoneWorkers` used to keep two spawned workers, each with its own decoders: 336 MB of private memory
each (two spare word decoders included), about 0.9 CPU-seconds each to start, and after every task a
reload of the decoders it had used (`phonemes.forget_history`: a pocketsphinx decoder's answer depends on
what it decoded before). A fork of a process whose decoders have never decoded anything starts in exactly
a fresh decoder's state (measured: its phones equal a fresh `PhoneTimer`'s), shares the loaded models'
pages with that process, and is gone with what it decoded once its task is done. So a `ForkServer` loads
once, never decodes, never forgets, and runs each task in a child (about 40 MB of its own while it runs);
a cancelled task is one child killed, and the next task is served at once, by a new child.

The server is spawned (the runtime has loaded mediapipe and torch, which are not fork-safe; the server
loads only pocketsphinx and MyTalk's audio half) and has one slot per task the pool runs at once: a pipe
pair the runtime holds, on which it sends ("task", seq, task) or ("cancel", seq), and on which the child
running that slot's task answers (seq, outcome) itself. A slot runs one task at a time, so its answers
never interleave; `seq` lets the runtime drop the answer of a task it has already given up on. A child
that dies without answering (killed from outside, a crash) is answered for by the server: "lost".

Only Linux: elsewhere fork is missing (Windows) or unsafe once system frameworks are loaded (macOS), and
the pool spawns a worker per slot, as it always did (`phone_workers.spawn_worker`).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
from multiprocessing import get_context
from multiprocessing.connection import wait
from typing import Any

from mytalk.core.audio.phone_workers import (
    SPARE_WORD_DECODERS,
    TASK_POLL_S,
    Outcome,
    PhoneTask,
    PipePair,
    _loaded_timer,
    _run_task,
)

log = logging.getLogger(__name__)

REAP_S = 0.05
"""How often the server looks for children that ended, while no message arrives."""

_PR_SET_PDEATHSIG = 1
"""prctl(2): the signal a process gets when its parent dies."""


def can_fork() -> bool:
    """Whether `PhoneWorkers` may run its tasks in forks of one server here (module docstring)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def serve_slots(slots: list[PipePair], loaded: Any) -> None:
    """The server's loop (module docstring). Ends when every slot's runtime end has said None or closed,
    killing any child still running; `loaded` is set once the decoders and the spare word decoders are."""
    os.dup2(2, 1)  # whatever a library prints must never reach the parent's stdout (the runtime's protocol)
    timer = _loaded_timer(SPARE_WORD_DECODERS)
    open_slots = set(range(len(slots)))
    children: dict[int, tuple[int, int]] = {}  # slot → (pid, seq) of the child running its task
    cancelled: set[int] = set()  # pids killed on request: their slot needs no answer
    try:
        while open_slots:
            _reap(children, cancelled, slots)
            idle = not children and not any(slots[k].poll(0) for k in open_slots)
            if idle and timer.add_spare():
                continue  # one spare word decoder at a time, while nothing waits
            if idle and not loaded.is_set():
                loaded.set()
            readers = {slots[k].reader: k for k in open_slots}
            for reader in wait(list(readers), timeout=REAP_S):
                slot = readers[reader]  # type: ignore[index]
                try:
                    message = slots[slot].recv()
                except (EOFError, OSError):
                    message = None
                if message is None:
                    open_slots.discard(slot)
                elif message[0] == "cancel":
                    running = children.get(slot)
                    if running is not None and running[1] == message[1]:
                        del children[slot]  # the slot is free for its next task at once
                        cancelled.add(running[0])  # reaped by `_reap`, and answered for by no one
                        _kill(running[0])
                elif message[0] == "task":
                    _, seq, task = message
                    children[slot] = (_fork(timer, slots, slot, seq, task), seq)
    finally:
        for pid in [pid for pid, _seq in children.values()] + list(cancelled):
            _kill(pid)
            _wait(pid)


def _fork(timer: Any, slots: list[PipePair], slot: int, seq: int, task: tuple[Any, ...]) -> int:
    """Run `task` in a child that answers on `slots[slot]` and exits; the child's pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns into the server's loop
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:
            os._exit(1)  # the server died while forking: nobody waits for this answer
        for other in slots:
            other.reader.close()  # messages are the server's to read
        try:
            outcome: Outcome = ("ok", _run_task(timer, task))
        except Exception as error:
            outcome = ("error", f"{type(error).__name__}: {error}")
        slots[slot].send((seq, outcome))
    finally:
        os._exit(0)


def _reap(children: dict[int, tuple[int, int]], cancelled: set[int], slots: list[PipePair]) -> None:
    """Collect every child that ended (cancelled ones too, so none is left a zombie); answer "lost" for one
    that died without answering."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no child at all
        if pid == 0:
            return
        cancelled.discard(pid)
        running = [(slot, seq) for slot, (child, seq) in children.items() if child == pid]
        if not running:
            continue
        slot, seq = running[0]
        del children[slot]
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit code {os.WEXITSTATUS(status)}"
            try:
                slots[slot].send((seq, ("lost", f"the task's process ended ({how})")))
            except (OSError, ValueError):
                pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class ForkSlot:
    """The runtime's end of one slot of a fork server: what `PhoneWorkers` drives, as it drives a spawned
    `PhoneWorker`. Every slot of a server shares its process, so a slot is alive while the server is."""

    def __init__(self, process: Any, conn: PipePair, loaded: Any) -> None:
        self.process = process
        self.conn = conn
        self.loaded = loaded
        self.tasks_run = 0
        self._seq = 0
        self._end_lock = threading.Lock()
        self._ended = False

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def ask_to_end(self) -> None:
        """Close this slot (the server ends once every slot is closed and its children are killed)."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass

    def end(self) -> None:
        """Terminate the server (every slot of it) and close this slot's pipes; once, whichever thread asks
        first (the pool's `close` and a slot's own thread, which sees the server go, may both)."""
        with self._end_lock:
            if self._ended:
                return
            self._ended = True
            try:
                if self.process.is_alive():
                    self.process.terminate()
                self.process.join(timeout=5)
            finally:
                self.conn.close()

    def run(self, handle: PhoneTask) -> Outcome:
        """Run one task in a child of the server and wait for its answer, watching for a cancel (the child is
        killed, the slot stays) and for the server's end."""
        if handle.cancel_requested:
            return ("cancelled", "")
        self._seq += 1
        seq = self._seq
        self.tasks_run += 1
        try:
            self.conn.send(("task", seq, handle.task))
            while True:
                while not self.conn.poll(TASK_POLL_S):
                    if handle.cancel_requested:
                        self.conn.send(("cancel", seq))
                        return ("cancelled", "")
                    if not self.alive():
                        return ("lost", "the phone server ended")
                answered, outcome = self.conn.recv()
                if answered == seq:
                    return (str(outcome[0]), outcome[1])
                # An answer to a task given up on (its child answered before the cancel reached it): dropped.
        except (EOFError, OSError, ValueError) as error:
            return ("lost", str(error) or type(error).__name__)

    def survives(self, outcome: Outcome) -> bool:
        """A cancelled task or a lost child leaves the slot usable while the server lives."""
        return self.alive()


def spawn_fork_server(slots: int) -> list[ForkSlot]:
    """A new fork server with `slots` slots (spawned; `serve_slots`). Raises OSError/RuntimeError/ValueError
    when it cannot start."""
    context = get_context("spawn")
    ours: list[PipePair] = []
    theirs: list[PipePair] = []
    for _ in range(slots):
        task_reader, task_writer = context.Pipe(duplex=False)
        answer_reader, answer_writer = context.Pipe(duplex=False)
        theirs.append(PipePair(task_reader, answer_writer))
        ours.append(PipePair(answer_reader, task_writer))
    loaded = context.Event()
    process = context.Process(target=serve_slots, args=(theirs, loaded), daemon=True, name="mytalk-phone-server")
    try:
        process.start()
    except BaseException:
        for pair in ours:
            pair.close()
        raise
    finally:
        for pair in theirs:
            pair.close()  # the server's ends: it has its own copies now
    return [ForkSlot(process, pair, loaded) for pair in ours]
