"""The picture as it is shown, for the face tracker, and the way back to stored pixels.

Clips are stored as recorded, not as shown. Phones store portrait video on its side with a display
rotation; HDV, DVCPRO HD and anamorphic camera originals store squeezed pixels (a sample aspect other
than 1:1). Players and editors turn and desqueeze the picture; the face detector and mesh find only
faces that are upright with square pixels. Measured on the shared `hdtf_wda_katiehill_512` clip made
so: stored on its side with a 90° display rotation, 42 of 100 frames tracked; squeezed to 3/4 width
with a 4:3 sample aspect, no face at all.

So the tracker looks at the picture as shown (`to_display`) and hands its landmarks back in stored
pixels (`points_to_stored`), where a job reads, paints and composites every frame; the writer carries
the rotation and the sample aspect over to the render. Coordinates are continuous pixels, the centre
of pixel (i, j) at (i + 0.5, j + 0.5), as the tracker's.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from mytalk.core.media.probe import VideoStreamInfo


@dataclass(frozen=True)
class DisplayGeometry:
    """How a clip's stored frames become the picture shown: desqueezed by `sample_aspect`, then turned
    counter-clockwise by `rotation` degrees (0, 90, 180 or 270, as `probe` reports it)."""

    width: int
    height: int
    rotation: int = 0
    sample_aspect: Fraction = Fraction(1)

    @classmethod
    def of(cls, video: VideoStreamInfo) -> DisplayGeometry:
        return cls(video.width, video.height, int(video.rotation) % 360, Fraction(video.sample_aspect))

    @property
    def is_identity(self) -> bool:
        return self.rotation == 0 and self.sample_aspect == 1

    @property
    def quarter_turns(self) -> int:
        """Counter-clockwise quarter turns from stored to shown (`np.rot90`'s k)."""
        return (self.rotation // 90) % 4

    @property
    def shown_size(self) -> tuple[int, int]:
        """(width, height) of the picture as shown, in square pixels."""
        return (self.height, self.desqueezed_width) if self.quarter_turns % 2 else (self.desqueezed_width, self.height)

    @property
    def desqueezed_width(self) -> int:
        """The stored width in square pixels: 1440 for HDV's 1440 × 4/3 ... shown 1920 wide."""
        return max(1, round(self.width * self.sample_aspect))

    def to_display(self, image: np.ndarray) -> np.ndarray:
        """The stored frame as shown (a new array; the stored one when nothing changes)."""
        if self.sample_aspect != 1:
            wider = self.desqueezed_width > image.shape[1]
            image = cv2.resize(image, (self.desqueezed_width, image.shape[0]),
                               interpolation=cv2.INTER_LINEAR if wider else cv2.INTER_AREA)
        if self.quarter_turns:
            image = np.ascontiguousarray(np.rot90(image, self.quarter_turns))
        return image

    def points_to_stored(self, points: np.ndarray) -> np.ndarray:
        """(..., 2+) points of the shown picture in stored pixels; columns past x and y (depth) are kept."""
        out = np.array(points, dtype=np.result_type(points, np.float32), copy=True)
        x, y = np.asarray(points)[..., 0], np.asarray(points)[..., 1]
        wide, high = self.desqueezed_width, self.height
        turns = self.quarter_turns
        if turns == 1:
            x, y = wide - y, x
        elif turns == 2:
            x, y = wide - x, high - y
        elif turns == 3:
            x, y = y, high - x
        out[..., 0] = x * (self.width / wide)
        out[..., 1] = y
        return out

    def point_to_display(self, x: float, y: float) -> tuple[float, float]:
        """A stored pixel position in the shown picture (the inverse of `points_to_stored`)."""
        x = x * self.desqueezed_width / self.width
        wide, high = self.desqueezed_width, self.height
        turns = self.quarter_turns
        if turns == 1:
            return y, wide - x
        if turns == 2:
            return wide - x, high - y
        if turns == 3:
            return high - y, x
        return x, y

    def box_to_stored(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """An integer (x0, y0, x1, y1) box of the shown picture, as the stored pixels it covers."""
        x0, y0, x1, y1 = box
        if box == (0, 0, 0, 0):
            return box  # "no box"
        corners = self.points_to_stored(np.array([[x0, y0], [x1, y1]], np.float64))
        return (int(np.floor(corners[:, 0].min())), int(np.floor(corners[:, 1].min())),
                int(np.ceil(corners[:, 0].max())), int(np.ceil(corners[:, 1].max())))
