"""`--engine copy`: writes the source frames unchanged.

A conform check, never the default: it proves that range reading, frame rate, pixel format,
colour tags and audio placement are right before any pixel is generated. Because it hands the
decoded frames straight to the writer, a lossless output is bit-identical to the decoded source.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from mytalk.core.engines.base import EngineJob, FrameRecord, RenderedFrame, WaitFn, ready_now
from mytalk.core.media.reader import SourceFrame
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled

if TYPE_CHECKING:
    from mytalk.core.engines.tracking import TrackedRange


class CopyEngine:
    """Passes every frame through untouched."""

    name: ClassVar[str] = "copy"
    version: ClassVar[str] = "1.0"
    needs_tracking: ClassVar[bool] = False

    @classmethod
    def settings_honoured(cls) -> tuple[str, ...]:
        return ()

    def check(self, job: EngineJob) -> None:
        """Every setting is legal and ignored: the frames go through as decoded."""

    def prepare(self, job: EngineJob, tracked: TrackedRange | None, progress: ProgressFn,
                is_cancelled: CancelFn, wait: WaitFn = ready_now) -> None:
        check_cancelled(is_cancelled, "preparation")

    def render(
        self, frames: Iterator[SourceFrame], progress: ProgressFn, is_cancelled: CancelFn
    ) -> Iterator[RenderedFrame]:
        for source in frames:
            yield RenderedFrame(source.index, source.in_range, source.frame, FrameRecord(source.index))

    def report(self) -> dict[str, Any]:
        return {"note": "diagnostic conform check: frames are written unchanged"}
