"""An interlaced frame's picture taken to one instant, for the engines' painting.

A 1080i or DV frame holds two fields taken 1/50 s apart, in alternate rows. Where the mouth moves between
them, the rows alternate between two mouths (combing). The classic engine warps the frame's own lower face
and pastes reference mouths as pictures: warped and resampled, combed rows smear into streaks, which each
field then shows (`docs/fidelity.md`). So the pictures it paints from are first taken to the instant of
the frame's first field, the frame's own time (the upper field in 1080i, the lower in DV:
`media.decoded_fields`): a row of the other field is replaced by the mean of the first field's rows around
it where it stands out from both of them in the same direction (the comb test), and kept where it does not,
so a still face keeps its full vertical detail and only moving edges are interpolated.

The neural engine's crops (`engines.mytalk.landmarks.crop_frame`) are taken the same way: its generator
was trained on progressive faces and paints the crop's mouth whole, and the crops it trains on are cut
by the same function, so training and painting see one instant alike.
"""

from __future__ import annotations

import numpy as np

COMB_LEVEL = 0.03
"""How far (nominal RGB, 0-1; about 8 levels in 8 bits) a lower-field row must stand out from both upper-field
rows around it, in the same direction, to count as combed: above the grain and compression noise of camera
footage, below the step a lip edge moving a pixel or more between the fields makes."""

RULE = "2"
"""Bumped when what `one_instant` makes changes: learned profiles keep crops made by it (`profile_cache`)."""


def one_instant(rgb: np.ndarray, first_row: int, kept_row: int = 0) -> np.ndarray:
    """`rgb` (h, w, 3) float, frame rows [first_row, first_row + h) of an interlaced frame, with each pixel
    of the field not kept that the comb test flags replaced by the mean of the kept field's pixels above
    and below it; a new array. `kept_row` is the first frame row of the kept field (0: the upper field, 1:
    the lower; `decoded_fields.first_field_row`). A row at the box's edge with one kept neighbour is kept."""
    h = rgb.shape[0]
    out = np.array(rgb, dtype=np.float32, copy=True)
    rows = np.arange(h)
    other = rows[(rows + first_row) % 2 != kept_row]
    other = other[(other > 0) & (other < h - 1)]
    if other.size == 0:
        return out
    above, middle, below = out[other - 1], out[other], out[other + 1]
    level = np.float32(COMB_LEVEL)
    up, down = above - middle, below - middle
    combed = (((up > level) & (down > level)) | ((up < -level) & (down < -level))).any(axis=-1)
    out[other] = np.where(combed[..., None], (above + below) * np.float32(0.5), middle)
    return out
