"""The neural engine cuts an interlaced frame's crop at one instant (`engines.mytalk.landmarks.crop_frame`).

Its generator was trained on progressive faces and paints the crop's mouth whole; a crop of a 1080i frame
whose mouth moves between the fields held both mouths in alternate rows. Training, the reference banks and
the generator share `crop_frame`, so all of them now see the upper field's instant where the fields differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from woven_fields import woven_clip

from media_factory import make_h264
from mytalk.core.composite.one_instant import COMB_LEVEL
from mytalk.core.composite.planes import read_box_rgb
from mytalk.core.engines.mytalk.landmarks import CropGeometry, crop_frame
from mytalk.core.media.reader import read_range

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _whole_frame(width: int, height: int) -> CropGeometry:
    """A crop that is the frame itself: canonical units are frame pixels, one crop pixel per frame pixel."""
    return CropGeometry((0.0, 0.0, float(width), float(height)), width)


def _combed_share(picture: np.ndarray) -> float:
    """Share of the lower-field (odd) rows' pixels that stand out from both rows around them in one direction
    by more than `COMB_LEVEL`: the comb test of `composite.one_instant`."""
    rgb = picture.astype(np.float32) / 255
    above, middle, below = rgb[0:-2:2], rgb[1:-1:2], rgb[2::2]
    up, down = above - middle, below - middle
    level = COMB_LEVEL
    return float((((up > level) & (down > level)) | ((up < -level) & (down < -level))).any(-1).mean())


def test_a_progressive_frame_is_cut_as_read(tmp_path: Path) -> None:
    clip = make_h264(tmp_path / "p.mp4", num_frames=2)
    for source in read_range(clip, 0, 2):
        frame = source.frame
        assert not frame.interlaced_frame
        crop = crop_frame(frame, IDENTITY, _whole_frame(frame.width, frame.width))
        expected = np.clip(read_box_rgb(frame, (0, 0, frame.width, frame.height)) * 255 + 0.5, 0, 255).astype(np.uint8)
        assert np.array_equal(crop[: frame.height], expected)


@pytest.mark.media
def test_an_interlaced_face_whose_mouth_moves_is_cut_without_its_comb(tmp_path: Path) -> None:
    """Measured on these 12 frames (fields 1/25 s apart): the comb test flags 18.4 % of the lower-field pixels of
    the lower face as read, and 0.6 % of its crops now."""
    clip = woven_clip(tmp_path / "woven.mov", 12)
    before, after = [], []
    for source in read_range(clip, 0, 12):
        frame = source.frame
        assert frame.interlaced_frame
        box = (128, 256, 384, 512)  # the lower face: the nose's base, mouth, chin
        geometry = CropGeometry((float(box[0]), float(box[1]), float(box[2]), float(box[3])), box[2] - box[0])
        crop = crop_frame(frame, IDENTITY, geometry)
        read = np.clip(read_box_rgb(frame, box) * 255 + 0.5, 0, 255).astype(np.uint8)
        assert np.array_equal(crop[0::2], read[0::2]), "the upper field is cut as read"
        before.append(_combed_share(read))
        after.append(_combed_share(crop))
    assert np.mean(before) > 0.1, f"the woven clip should be combed: {np.mean(before):.1%}"
    assert np.mean(after) < 0.2 * np.mean(before), f"{np.mean(after):.1%} combed, {np.mean(before):.1%} as read"
