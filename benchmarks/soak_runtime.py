"""Soak: the runtime takes a long run of previews and commits, with cancels and kills, and loses nothing.

    .venv/bin/python -m benchmarks.soak_runtime [--jobs 200] [--engine copy] [--frames 50]
                                                [--cancel-every 5] [--kill-every 50] [--keep DIR]

One `mytalk runtime` is driven exactly as the panel drives it (JSON lines on a pipe), with
previews and commits alternating on a shared clip. Every fifth job is cancelled once it reports
progress; on every fiftieth the runtime is killed with SIGKILL mid-job and a new one is started,
as the panel does after a crash (the new one removes what the killed one left). After each job it
samples the runtime's resident memory (VmRSS) and open file descriptors from /proc.

It prints, from this one run:
- memory and descriptors over time, per runtime lifetime (start, peak, end, and growth per job),
- leftover files at the end (must be 0): temporary files, lock files, job-journal records, and
  commits whose picture or sidecar is missing, in the commit folder and in the preview cache,
- jobs that failed other than by request (must be 0); cancelled and killed jobs are by request.

The exit status is 1 when either of the last two is not 0. `--engine copy` (the default) keeps the
job itself cheap, so that the run measures the runtime and its bookkeeping rather than an engine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from benchmarks.runtime_client import Runtime

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames
LINE = "jfk_inaugural_en_16k.wav"
JOB_TIMEOUT_S = 300


@dataclass
class Outcome:
    index: int
    kind: str
    result: str  # done, cancelled, cancel-too-late, killed, failed
    seconds: float
    runtime: int
    rss_mib: float | None = None
    fds: int | None = None
    message: str = ""


@dataclass
class Soak:
    jobs: int
    engine: str
    frames: int
    cancel_every: int
    kill_every: int
    work: Path
    outcomes: list[Outcome] = field(default_factory=list)

    def request(self, kind: str, renders: Path) -> dict[str, Any]:
        return {"video": str(MEDIA / "video" / CLIP), "audio": str(MEDIA / "audio" / LINE), "output": str(renders),
                "in_point": "10", "out_point": str(10 + self.frames), "engine": self.engine, "codec": "prores"}

    def run(self) -> None:
        renders = self.work / "renders"
        log = self.work / "runtime-stderr.log"
        runtime, lifetime = Runtime(log), 1
        for index in range(self.jobs):
            kind = "preview" if index % 2 == 0 else "commit"
            job_id = f"j{index:04d}"
            cancel = (index + 1) % self.cancel_every == 0
            kill = (index + 1) % self.kill_every == 0
            began = time.monotonic()
            runtime.send(type=kind, id=job_id, request=self.request(kind, renders))
            if kill or cancel:
                self._wait_for_progress(runtime, job_id)
            if kill:
                runtime.kill()
                self.outcomes.append(Outcome(index, kind, "killed", time.monotonic() - began, lifetime))
                runtime, lifetime = Runtime(log), lifetime + 1  # as the panel restarts a crashed runtime
                continue
            if cancel:
                runtime.send(type="cancel", id=f"c{index:04d}", job=job_id)
            final = self._wait_for_end(runtime, job_id)
            outcome = Outcome(index, kind, "done", time.monotonic() - began, lifetime)
            if final["event"] == "error":
                by_request = cancel and final.get("code") == "JobCancelledError"
                outcome.result = "cancelled" if by_request else "failed"
                outcome.message = str(final.get("message", ""))[:200]
            elif cancel:
                outcome.result = "cancel-too-late"  # the job ended before the cancel arrived
            outcome.rss_mib, outcome.fds = runtime.sample()
            self.outcomes.append(outcome)
        code = runtime.close()
        if code != 0:
            self.outcomes.append(Outcome(self.jobs, "shutdown", "failed", 0.0, lifetime, message=f"exit {code}"))

    def _wait_for_progress(self, runtime: Runtime, job_id: str) -> None:
        while True:
            event = runtime.next_event(JOB_TIMEOUT_S)
            if event.get("id") == job_id and event["event"] in ("progress", "done", "error"):
                if event["event"] != "progress":
                    runtime.events.put(event)  # ended before any progress: hand it back
                return

    def _wait_for_end(self, runtime: Runtime, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while True:
            try:
                event = runtime.next_event(max(0.1, deadline - time.monotonic()))
            except Empty:
                return {"event": "error", "code": "Timeout", "message": f"no answer in {JOB_TIMEOUT_S} s"}
            if event.get("id") == job_id and event["event"] in ("done", "error"):
                return event


def leftovers(work: Path, home: Path) -> list[str]:
    """Every file a clean run would not have: temporaries, locks, journal records, half commits."""
    found: list[str] = []
    renders, previews, journal = work / "renders", home / "cache" / "previews", home / "cache" / "journal"
    for folder in (renders, previews):
        if folder.is_dir():
            found += [str(p) for p in folder.iterdir() if p.name.startswith(".")]  # temporaries, locks
    if journal.is_dir():
        found += [str(p) for p in journal.iterdir()]
    if renders.is_dir():
        names = {p.name for p in renders.iterdir() if not p.name.startswith(".")}
        stems = {name.rsplit(".", 1)[0] for name in names}
        found += [f"{renders / stem} (picture or sidecar missing)" for stem in sorted(stems)
                  if not {f"{stem}.mov", f"{stem}.json"} <= names]
    return found


def swept(log: Path) -> list[str]:
    """What restarted runtimes said they removed (their start-up clean-up logs it on stderr)."""
    if not log.is_file():
        return []
    return [line.split("WARNING ", 1)[-1] for line in log.read_text(errors="replace").splitlines()
            if "left by interrupted jobs" in line or "put back" in line]


def report(soak: Soak, seconds: float, left: list[str]) -> int:
    outcomes = [o for o in soak.outcomes if o.kind != "shutdown"]
    counts = {name: sum(1 for o in outcomes if o.result == name)
              for name in ("done", "cancelled", "cancel-too-late", "killed", "failed")}
    failed = [o for o in soak.outcomes if o.result == "failed"]
    print(f"soak: {len(outcomes)} jobs ({sum(o.kind == 'preview' for o in outcomes)} previews, "
          f"{sum(o.kind == 'commit' for o in outcomes)} commits), engine {soak.engine}, {soak.frames} frames each, "
          f"{seconds:.0f} s")
    print(f"  outcomes: {counts['done']} done, {counts['cancelled']} cancelled, {counts['cancel-too-late']} cancel "
          f"arrived after the job ended, {counts['killed']} killed with the runtime (SIGKILL)")
    print("  memory and descriptors of the runtime after each job (every 10th shown):")
    print("     job  runtime  RSS MiB  open fds")
    for o in outcomes:
        if o.rss_mib is not None and (o.index % 10 == 9 or o.index == 0):
            print(f"    {o.index + 1:4d}  {o.runtime:7d}  {o.rss_mib:7.1f}  {o.fds:8d}")
    for lifetime in sorted({o.runtime for o in outcomes}):
        sampled = [(o.index, o.rss_mib, o.fds) for o in outcomes
                   if o.runtime == lifetime and o.rss_mib is not None and o.fds is not None]
        if len(sampled) < 2:
            continue
        rss = [mib for _, mib, _ in sampled]
        fds = [count for _, _, count in sampled]
        # Growth over the second half of a lifetime: the first jobs still load codecs and caches.
        (first, first_rss, _), (last, last_rss, _) = sampled[len(sampled) // 2], sampled[-1]
        growth_kib = (last_rss - first_rss) * 1024 / max(1, last - first)
        print(f"  runtime {lifetime}: {len(sampled)} jobs, RSS {rss[0]:.1f} -> {rss[-1]:.1f} MiB (peak {max(rss):.1f}, "
              f"{growth_kib:+.0f} KiB/job over its second half), fds {fds[0]} -> {fds[-1]} (max {max(fds)})")
    for line in swept(soak.work / "runtime-stderr.log"):
        print(f"  after a kill, the restarted runtime {line[:160]}")
    print(f"  leftover files: {len(left)}")
    for path in left[:20]:
        print(f"    {path}")
    print(f"  jobs failed other than by request: {len(failed)}")
    for o in failed[:20]:
        print(f"    job {o.index + 1} ({o.kind}): {o.message}")
    return 0 if not left and not failed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--engine", default="copy")
    parser.add_argument("--frames", type=int, default=50, help="frames per job (from frame 10 of the clip)")
    parser.add_argument("--cancel-every", type=int, default=5)
    parser.add_argument("--kill-every", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    if not (MEDIA / "video" / CLIP).is_file():
        print(f"soak: the shared clip {MEDIA / 'video' / CLIP} is missing; set MYTALK_SHARED_MEDIA", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mytalk-soak-") as temp:
        work = args.keep or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        home = work / "home"
        os.environ["MYTALK_HOME"] = str(home)  # the runtime's cache, journal and previews go here
        soak = Soak(args.jobs, args.engine, args.frames, args.cancel_every, args.kill_every, work)
        began = time.monotonic()
        soak.run()
        return report(soak, time.monotonic() - began, leftovers(work, home))


if __name__ == "__main__":
    sys.exit(main())
