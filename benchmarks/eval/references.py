"""The suite's own reference tools: fixed points that show the metrics discriminate.

They are not the product and share none of its rendering code: they decode and encode with plain
PyAV (`mediaio`). They write an output file and a report the way `mytalk sync` does, so the very
same measurement code reads them:

- **do-nothing** writes the source frames of the range unchanged, with the replacement line as
  its audio. Every "do nothing" baseline in the report is what this tool scores: lip-error ratio
  1 by construction, AV lag D·fps away from the real footage's in the shift protocol.
- **oracle** knows the ground truth: in shift it shows at frame t the source frame from
  t − D·fps (and in adr the source frame at the re-timed map's time), so its lip-error ratio is
  near 0 and its AV lag is the real footage's. It exists only where ground truth exists.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from benchmarks.eval.mediaio import LINE_RATE, SimpleWriter, audio_segment, iter_frames, probe_clip, read_wav
from benchmarks.eval.tools import ToolJob, ToolRun

DO_NOTHING = "ref:do-nothing"
ORACLE = "ref:oracle"


def _placed_line(job: ToolJob, num_frames: int, fps: Fraction) -> np.ndarray:
    """The job's audio from its first sample on, cut to exactly the range's length at 48 kHz."""
    line = read_wav(job.audio, LINE_RATE)
    length = (num_frames * LINE_RATE * fps.denominator) // fps.numerator
    return audio_segment(line, LINE_RATE, 0.0, int(length))


def _report(name: str, job: ToolJob, start: int, stop: int, boxes: list[list[int] | None]) -> dict[str, Any]:
    """A report with the fields of `mytalk sync --report` that the suite reads."""
    return {
        "engine": {"name": name, "version": "reference"},
        "reference_tool": True,
        "range": {"in": start, "out": stop, "frames": stop - start},
        "output": {"path": str(job.output), "codec": job.codec, "frames": stop - start},
        "tracking": {"faceless_frames": []},
        "frames": [
            {"index": start + i, "face_found": None, "mask_box": box, "changed_pixels": None}
            for i, box in enumerate(boxes)
        ],
    }


class _SequentialSource:
    """Source frames by index for non-decreasing requests, decoding each frame once."""

    def __init__(self, path: Path, first: int, last: int) -> None:
        self.path = path
        self.first, self.last = first, last
        self._frames: Iterator[tuple[int, av.VideoFrame]] = iter_frames(path, first, last + 1)
        self._current: tuple[int, av.VideoFrame] | None = None

    def get(self, index: int) -> av.VideoFrame:
        if self._current is not None and index < self._current[0]:
            # A backwards request (never in shift or adr): start decoding again.
            self._frames = iter_frames(self.path, index, self.last + 1)
            self._current = None
        while self._current is None or self._current[0] < index:
            self._current = next(self._frames)
        return self._current[1]


class DoNothingTool:
    """Writes the source frames of the range unchanged, with the replacement line as audio."""

    name = DO_NOTHING
    is_reference = True

    def supports(self, protocol: str) -> bool:
        return protocol in {"shift", "adr", "dub", "closures", "preserve", "speed"}

    def run(self, job: ToolJob) -> ToolRun:
        began = time.perf_counter()
        info = probe_clip(job.video)
        start, stop = job.start or 0, job.stop if job.stop is not None else info.frame_count
        line = _placed_line(job, stop - start, info.fps)
        with SimpleWriter(
            job.output, codec=job.codec, fps=info.fps, width=info.width, height=info.height,
            pix_fmt=info.pix_fmt, audio=line, color=info.color,
        ) as writer:
            for _, frame in iter_frames(job.video, start, stop):
                writer.write(frame)
        report = _report(self.name, job, start, stop, [None] * (stop - start))
        return ToolRun(0, "", time.perf_counter() - began, job.output, report, ["<reference do-nothing>"])


class OracleTool:
    """Shows at output frame t the source frame the ground truth names (`ToolJob.truth`)."""

    name = ORACLE
    is_reference = True

    def supports(self, protocol: str) -> bool:
        return protocol in {"shift", "adr"}

    def run(self, job: ToolJob) -> ToolRun:
        if job.truth is None:
            raise ValueError("the oracle needs the job's ground truth; it only runs in shift and adr")
        began = time.perf_counter()
        info = probe_clip(job.video)
        start, stop = job.start or 0, job.stop if job.stop is not None else info.frame_count
        wanted = job.truth(np.arange(stop - start, dtype=np.float64))
        own = np.arange(start, stop, dtype=np.float64)
        # Where the truth is undefined (after a shortened line has ended) keep the frame itself.
        wanted = np.where(np.isfinite(wanted), wanted, own)
        indices = np.clip(np.floor(wanted + 0.5).astype(np.int64), 0, info.frame_count - 1)
        line = _placed_line(job, stop - start, info.fps)
        source = _SequentialSource(job.video, int(indices.min()), int(indices.max()))
        with SimpleWriter(
            job.output, codec=job.codec, fps=info.fps, width=info.width, height=info.height,
            pix_fmt=info.pix_fmt, audio=line, color=info.color,
        ) as writer:
            for index in indices:
                writer.write(source.get(int(index)))
        whole = [0, 0, info.width, info.height]
        report = _report(self.name, job, start, stop, [whole] * (stop - start))
        report["oracle_source_frames"] = indices.tolist()
        return ToolRun(0, "", time.perf_counter() - began, job.output, report, ["<reference oracle>"])
