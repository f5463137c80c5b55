"""One phone-timing process that loads the decoders once, and forks of it that run the tasks (Linux).

`PhoneWorkers` used to keep two spawned workers, each with its own decoders: 336 MB of private memory
each (two spare word decoders included), about 0.9 CPU-seconds each to start, and after every task a
reload of the decoders it had used (`phonemes.forget_history`: a pocketsphinx decoder's answer depends on
what it decoded before). A fork of a process whose decoders have never decoded anything starts in exactly
a fresh decoder's state (measured: its phones equal a fresh `PhoneTimer`'s) and shares the loaded models'
pages with that process. So a fork server loads once and never decodes; each of its slots has a child
forked ahead while nothing waits, which runs the slot's tasks until it has no fresh word decoder left
for another (its own and the spares it inherited: three utterances), then exits, and another is forked.
A cancelled task is its child killed, and the next task finds a new one. A child that served tasks
holds 40-80 MB of its own; the phone processes together hold about 410 MB (proportional set size) after
a cold preview, where two spawned workers held 730 MB.

Why children serve several tasks and are forked ahead: a fork made for each task cost its task 0.06-0.1 s
(the fork, and the first touch of the memory the decoding writes), about 0.2 s on the first frame of a
cold preview; forked ahead and reused, the first task pays only the first touch.

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
from multiprocessing import Pipe, get_context
from multiprocessing.connection import wait
from typing import Any

from mytalk.core.audio.phone_workers import (
    SPARE_WORD_DECODERS,
    TASK_POLL_S,
    Outcome,
    PhoneTask,
    PhoneWorker,
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


class _Child:
    """A fork of the server serving one slot: the server hands it tasks on `tasks`, it answers on the slot."""

    def __init__(self, pid: int, tasks: Any) -> None:
        self.pid = pid
        self.tasks = tasks
        self.seq: int | None = None
        """The task it was last given (None: none yet)."""


def serve_slots(slots: list[PipePair], loaded: Any) -> None:
    """The server's loop (module docstring). Ends when every slot's runtime end has said None or closed,
    killing its children; `loaded` is set once the decoders, the spare word decoders and a child for each
    slot are ready.

    Each open slot has a child forked ahead, while nothing waits, so a task finds one ready: the fork and
    its first-touch costs are then off the task's path. A child serves its slot's tasks until it has no
    fresh word decoder left for another (`PhoneTimer.fresh_word_decoders`), then exits and another is
    forked; a task cancelled is its child killed."""
    os.dup2(2, 1)  # whatever a library prints must never reach the parent's stdout (the runtime's protocol)
    timer = _loaded_timer(SPARE_WORD_DECODERS)
    open_slots = set(range(len(slots)))
    children: dict[int, _Child] = {}  # slot → its child
    try:
        while open_slots:
            _reap(children, slots)
            waiting = any(slots[k].poll(0) for k in open_slots)
            if not waiting and not children and timer.add_spare():
                continue  # one spare word decoder at a time, while nothing waits, before any fork
            if not waiting:
                for slot in sorted(open_slots - set(children)):
                    children[slot] = _fork(timer, slots, slot, children)
                    break  # one at a time: a task that comes meanwhile goes first
                else:
                    if not loaded.is_set():
                        loaded.set()
            readers = {slots[k].reader: k for k in open_slots}
            for reader in wait(list(readers), timeout=REAP_S):
                slot = readers[reader]  # type: ignore[index]
                try:
                    message = slots[slot].recv()
                except (EOFError, OSError):
                    message = None
                child = children.get(slot)
                if message is None:
                    open_slots.discard(slot)
                    if child is not None:
                        _end(children.pop(slot))
                elif message[0] == "cancel":
                    if child is not None and child.seq == message[1]:
                        _end(children.pop(slot))  # killed: the slot gets another child, and no answer
                elif message[0] == "task":
                    _, seq, task = message
                    _hand_over(timer, slots, slot, children, seq, task)
    finally:
        for child in children.values():
            _end(child)


def _hand_over(timer: Any, slots: list[PipePair], slot: int, children: dict[int, _Child], seq: int,
               task: tuple[Any, ...]) -> None:
    """Give a task to the slot's child; to a new one when it has none, or when it has retired (its pipe is
    closed) or died."""
    for _attempt in range(2):
        child = children.get(slot)
        if child is None:
            child = children[slot] = _fork(timer, slots, slot, children)
        child.seq = seq
        try:
            child.tasks.send((seq, task))
            return
        except (OSError, ValueError):
            child.seq = None  # it never had this task: nobody answers "lost" for it
            _end(children.pop(slot))
    try:
        slots[slot].send((seq, ("lost", "no process could take the task")))
    except (OSError, ValueError):
        pass


def _fork(timer: Any, slots: list[PipePair], slot: int, children: dict[int, _Child]) -> _Child:
    """A child for `slots[slot]` (`_serve_fork`), forked now."""
    reader, writer = Pipe(duplex=False)
    parent = os.getpid()
    pid = os.fork()
    if pid:
        reader.close()
        return _Child(pid, writer)
    code = 1  # an exit other than the loop's own end (an interrupt) is one the server answers "lost" for
    try:  # the child: never returns into the server's loop
        writer.close()
        for other in slots:
            other.reader.close()  # the runtime's messages are the server's to read
        for sibling in children.values():
            sibling.tasks.close()
        _serve_fork(timer, reader, slots[slot], parent)
        code = 0
    finally:
        os._exit(code)


def _serve_fork(timer: Any, tasks: Any, slot: PipePair, parent: int) -> None:
    """A child's loop: run each task the server hands it and answer on the slot, until the server closes its
    pipe or no fresh word decoder is left for another task."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        return  # the server died while forking: nobody would read an answer
    while True:
        try:
            seq, task = tasks.recv()
        except (EOFError, OSError):
            return
        try:
            outcome: Outcome = ("ok", _run_task(timer, task))
        except Exception as error:
            outcome = ("error", f"{type(error).__name__}: {error}")
        retiring = timer.fresh_word_decoders() < 1
        if retiring:
            # Closed before the answer goes out: the runtime's next task can only come after it, so the
            # server's hand-over to this child then fails at once (`serve_slots` forks another), never
            # waits in a pipe nobody reads.
            tasks.close()
        slot.send((seq, outcome))
        if retiring:
            return


def _reap(children: dict[int, _Child], slots: list[PipePair]) -> None:
    """Collect every child that ended, so none is left a zombie, and drop it from its slot (another is forked
    while nothing waits); answer "lost" for one that died, other than by exiting, after it was given a task
    (an answer it had already given is dropped by the runtime: its `seq` is spent)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no child at all
        if pid == 0:
            return
        for slot, child in list(children.items()):
            if child.pid != pid:
                continue
            del children[slot]
            child.tasks.close()
            if child.seq is not None and not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                       else f"exit code {os.WEXITSTATUS(status)}")
                try:
                    slots[slot].send((child.seq, ("lost", f"the task's process ended ({how})")))
                except (OSError, ValueError):
                    pass


def _end(child: _Child) -> None:
    """Kill a child and collect it."""
    child.tasks.close()
    _kill(child.pid)
    _wait(child.pid)


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


class ForkSlot(PhoneWorker):
    """The runtime's end of one slot of a fork server, driven by `PhoneWorkers` as a spawned `PhoneWorker` is.
    Every slot of a server shares its process: a slot is alive while the server is, `ask_to_end` closes the
    slot (the server ends once every slot is closed, killing its children), and `end` terminates the server."""

    def __init__(self, process: Any, conn: PipePair, loaded: Any) -> None:
        super().__init__(process, conn, loaded)
        self._seq = 0
        self._broken = False
        """Its pipe failed, or the server was seen gone: the slot can take no more tasks."""

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
                        self._broken = True
                        return ("lost", "the phone server ended")
                answered, outcome = self.conn.recv()
                if answered == seq:
                    return (str(outcome[0]), outcome[1])
                # An answer to a task given up on (its child answered before the cancel reached it): dropped.
        except (EOFError, OSError, ValueError) as error:
            # The server is gone, or going (a SIGKILL is not seen by `is_alive` at once): never reused.
            self._broken = True
            return ("lost", str(error) or type(error).__name__)

    def survives(self, outcome: Outcome) -> bool:
        """A cancelled task, or a child the server answered "lost" for, leaves the slot usable while the server
        lives; a broken pipe does not."""
        return not self._broken and self.alive()


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
