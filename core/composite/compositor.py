"""Puts a generated mouth box back into a decoded source frame, in the source's own pixel format.

Per frame, on the mask box only: read the source box as float RGB with the frame's matrix, colour-match
the generated box to it on the feather ring, blend (multiband or alpha), and write the *difference* back
into the source planes (`planes.write_rgb_delta`). Samples outside the mask support, and chroma samples
whose footprint misses it, are the source's bytes; a frame with an empty mask is returned as the very same
object. The result carries the exact set of changed pixels so the preserve check can be exact too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import av
import numpy as np

from mytalk.core.composite.blend import alpha_delta, laplacian_delta
from mytalk.core.composite.color import match_color
from mytalk.core.composite.masks import Mask, MaskMode, mouth_mask
from mytalk.core.composite.planes import (
    Box,
    align_box,
    check_box,
    frame_layout,
    is_chroma_aligned,
    pixel_layout,
    read_rgb,
    write_rgb_delta,
)
from mytalk.core.errors import UsageError

BlendMethod = Literal["laplacian", "alpha"]
BLEND_METHODS: tuple[str, ...] = ("laplacian", "alpha")
QUALITY_BLEND: dict[str, BlendMethod] = {"preview": "alpha", "final": "laplacian"}
"""Blend used by each `--quality` setting: preview trades the multiband seam-hiding for speed."""


@dataclass
class CompositeResult:
    """One composited frame.

    `frame`: the output, same format, size, pts, time_base and colour tags as the source (the source object
    itself when nothing changed). `mask_box`: (x0, y0, x1, y1) px of the edit: the mask's box, grown to the
    chroma grid if a hand-made box was not on it (masks from `mouth_mask` always are). `changed_support`: bool
    (y1 - y0, x1 - x0) at luma resolution, True where the luma sample or the chroma sample covering that
    pixel differs from the source; None for a passthrough. `changed_pixels`: its count.
    """

    frame: av.VideoFrame
    mask_box: Box
    changed_support: np.ndarray | None
    changed_pixels: int


def _field_guard(alpha: np.ndarray) -> np.ndarray:
    """`alpha` without the support pixels whose row above or below is outside the support (the box's first
    and last rows included: alpha is 0 past the box).

    A mask bounded by a region (`Mask.within`) edits no pixel within `masks.EDIT_GUARD_PX` of the region's
    edge, which keeps a 4:2:0 chroma sample's footprint, (1, 1) px across, inside it. A field-sited sample's
    footprint (`planes.frame_layout`) is two rows apart, (1, 2) px across, which a slanted edge puts outside.
    An edit whose rows above and below could be edited too keeps that footprint inside."""
    support = alpha > 0
    inner = support.copy()
    inner[1:] &= support[:-1]
    inner[:-1] &= support[1:]
    inner[0] = inner[-1] = False
    return np.where(inner, alpha, np.float32(0.0)).astype(np.float32)


def _as_float_rgb(image: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
    """Float32 (h, w, 3) RGB in [0, 1] from uint8 (0..255), uint16 (0..65535) or float input."""
    arr = np.asarray(image)
    if arr.shape != (*shape, 3):
        raise UsageError(f"{what} has shape {arr.shape}; the mask box needs {(*shape, 3)} RGB")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1.0 / 255.0)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) * np.float32(1.0 / 65535.0)
    if not np.issubdtype(arr.dtype, np.floating):
        raise UsageError(f"{what} must be uint8, uint16 or float RGB, got {arr.dtype}")
    out = arr.astype(np.float32, copy=False)
    if not np.isfinite(out).all():
        raise ValueError(f"{what} contains NaN or infinite values: the generator failed")
    return out


@dataclass
class Compositor:
    """Compositing settings and the per-frame operation.

    `mode`, `feather_px`: used by `mask()` (see `masks.mouth_mask`; feather None scales with the face).
    `color_match`: match the generated box's colour to the source on the feather ring. `blend`:
    "laplacian" (final renders) or "alpha" (preview). `levels`: Laplacian bands (None: from the box size).
    """

    mode: MaskMode | str = MaskMode.MOUTH
    feather_px: float | None = None
    color_match: bool = True
    blend: BlendMethod = "laplacian"
    levels: int | None = None

    def __post_init__(self) -> None:
        try:
            self.mode = MaskMode(self.mode)
        except ValueError:
            raise UsageError(
                f"mask mode {self.mode!r} is unknown; use one of {', '.join(m.value for m in MaskMode)}"
            ) from None
        if self.blend not in BLEND_METHODS:
            raise UsageError(f"blend {self.blend!r} is unknown; use one of {', '.join(BLEND_METHODS)}")
        if self.feather_px is not None and not self.feather_px >= 0:
            raise UsageError(f"feather {self.feather_px} px must be >= 0 (or unset to scale with the face)")

    @classmethod
    def for_quality(cls, quality: str, **settings: object) -> Compositor:
        """A compositor for a `--quality` value ("preview" or "final"); other settings pass through."""
        if quality not in QUALITY_BLEND:
            raise UsageError(f"quality {quality!r} is unknown; use one of {', '.join(QUALITY_BLEND)}")
        return cls(blend=QUALITY_BLEND[quality], **settings)  # type: ignore[arg-type]

    def mask(self, landmarks: np.ndarray | None, frame_size: tuple[int, int]) -> Mask:
        """The mask of one frame with this compositor's mode and feather (None landmarks: empty mask)."""
        return mouth_mask(landmarks, frame_size, self.mode, self.feather_px)

    def composite(self, source: av.VideoFrame, generated_rgb_box: np.ndarray, mask: Mask) -> CompositeResult:
        """Composite `generated_rgb_box` into `source` under `mask`.

        `generated_rgb_box`: (y1 - y0, x1 - x0, 3) RGB for `mask.box`, float in [0, 1], uint8 or uint16.
        An empty mask returns `source` itself. Otherwise a new frame in the source's pixel format whose
        samples outside the mask support (dilated to the chroma grid) are the source's bytes.
        Raises `MediaFormatError` for a pixel format the compositor cannot write.
        """
        if mask.is_empty:
            return CompositeResult(source, mask.box, None, 0)
        pixel_layout(source.format.name)  # unsupported formats fail before any work, naming the format
        size = (source.width, source.height)
        if mask.frame_size is not None and tuple(mask.frame_size) != size:
            raise UsageError(f"the mask was made for a {mask.frame_size} frame, the source is {size}")
        box = check_box(mask.box, size)
        h, w = box[3] - box[1], box[2] - box[0]
        fg = _as_float_rgb(generated_rgb_box, (h, w), "the generated mouth box")
        alpha = mask.alpha
        layout = frame_layout(source)
        if layout.fields:
            alpha = _field_guard(alpha)
        if not is_chroma_aligned(box, layout, size):
            # A hand-made box off the chroma grid: grow it, with the source itself (alpha 0) around the patch.
            grown = align_box(box, source)
            bg = read_rgb(source, grown)
            inner = (slice(box[1] - grown[1], box[3] - grown[1]), slice(box[0] - grown[0], box[2] - grown[0]))
            fg_grown = bg.copy()
            fg_grown[inner] = fg
            grown_alpha = np.zeros(bg.shape[:2], np.float32)
            grown_alpha[inner] = alpha
            alpha = grown_alpha
            box, fg = grown, fg_grown
        else:
            bg = read_rgb(source, box)
        if self.color_match:
            fg = match_color(fg, bg, alpha)
        # The blends return the change to bg (0 exactly where alpha is 0), which is what the writer takes.
        if self.blend == "laplacian":
            delta = laplacian_delta(fg - bg, alpha, self.levels)
        else:
            delta = alpha_delta(fg - bg, alpha)
        frame, changed = write_rgb_delta(source, box, delta, alpha > 0)
        return CompositeResult(frame, box, changed, int(changed.sum()))

    def composite_full_frame(
        self, source: av.VideoFrame, generated_rgb_full_frame: np.ndarray, mask: Mask
    ) -> CompositeResult:
        """`composite` for a generator that renders the whole frame: (height, width, 3) RGB, cropped to the box."""
        arr = np.asarray(generated_rgb_full_frame)
        if arr.shape[:2] != (source.height, source.width):
            raise UsageError(
                f"the generated frame is {arr.shape[1::-1]} px, the source is {source.width}x{source.height}"
            )
        x0, y0, x1, y1 = mask.box
        return self.composite(source, arr[y0:y1, x0:x1], mask)
