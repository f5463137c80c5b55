"""The appearance part of a profile: which reference frames keep a mouth crop, and cutting them.

A profile keeps crops of a bounded subset of its frames, near-identical mouths dropped, so memory
and build time stay bounded however long the footage is. Crops are cut from the decoded frames
unresampled (the renderer resamples a mouth once, when it warps it) and stored as PNG bytes. A profile
just learned keeps them raw, up to `RAW_CROPS_BYTES`, until it is saved (`actors.AppearanceIndex`): a cold
preview's first frame does not wait for their encoding.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from mytalk.core.composite.planes import read_box_rgb
from mytalk.core.engines.actors import encode_crop
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic.geometry import LIPS_POS
from mytalk.core.engines.classic.profile import ReferenceFrames
from mytalk.core.face.canonical import iod_outer_corners
from mytalk.core.face.regions import LIPS
from mytalk.core.media.probe import MediaInfo
from mytalk.core.progress import CancelFn, check_cancelled

MAX_APPEARANCE = 400
"""Crops kept for retrieval. 400 distinct mouths cover a long take; memory stays bounded (PNG bytes)."""

RAW_CROPS_BYTES = 64 * 2**20
"""How much of a profile's crops may be kept raw (RGB uint8) until it is saved; those beyond are PNG-encoded
as they are cut. 400 crops of a 512 px clip's mouth hold 39 MB raw (12 MB as PNG); a 4K close-up's would
not fit."""

CROP_MARGIN = 0.35
"""Crop margin around the lip points, in outer-eye-corner distances (`iod_outer_corners`). The renderer
takes only the mouth's opening from a reference and matches its colour on the skin ring around the lips
(the compositor's mouth mask: 15 % of the mouth width plus a feather of 0.1 eye-centre distance), so the
crop needs the lips and that ring, not the whole lower face: a third of the pixels to store, encode and
decode."""


def select_appearance(frames: ReferenceFrames, eligible: np.ndarray, limit: int = MAX_APPEARANCE) -> np.ndarray:
    """Rows to keep crops of: all eligible ones, or near-duplicates dropped until at most `limit`.

    Two mouths are near-identical when their centred 2-D lip shapes differ by less than `eps` IOD on
    average; `eps` grows until the greedy pass (in frame order, so runs of consecutive frames
    survive where the mouth moves) keeps no more than `limit`.
    """
    rows = np.flatnonzero(eligible)
    if rows.size <= limit:
        return rows
    lips = frames.canon[rows][:, LIPS_POS, :].astype(np.float64)
    desc = (lips - lips.mean(axis=1, keepdims=True)).reshape(rows.size, -1)
    eps = 0.004
    while True:
        kept: list[int] = []
        bank = np.empty((0, desc.shape[1]))
        for i in range(rows.size):
            if bank.shape[0] == 0 or np.sqrt(((bank - desc[i]) ** 2).reshape(bank.shape[0], -1, 2).sum(-1)).mean(-1).min() > eps:
                kept.append(i)
                bank = np.vstack([bank, desc[i]])
                if len(kept) > limit:
                    break
        if len(kept) <= limit:
            return rows[np.asarray(kept, np.int64)]
        eps *= 1.5


def _crop_box(points: np.ndarray, iod: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    margin = CROP_MARGIN * iod
    x0 = int(np.floor(points[:, 0].min() - margin))
    y0 = int(np.floor(points[:, 1].min() - margin))
    x1 = int(np.ceil(points[:, 0].max() + margin))
    y1 = int(np.ceil(points[:, 1].max() + margin))
    w, h = size
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def extract_crops(
    ref: ReferenceRange,
    info: MediaInfo,
    wanted: dict[int, np.ndarray],
    is_cancelled: CancelFn,
    raw_budget: int = RAW_CROPS_BYTES,
) -> dict[int, tuple[tuple[int, int, int, int], np.ndarray, bytes | np.ndarray]]:
    """Decode the range once and cut the wanted frames' lower-face crops: frame → (box, landmarks, crop).

    A crop is RGB uint8 while the crops kept raw stay within `raw_budget` bytes (in frame order), PNG bytes
    after that. PNG encoding (about as slow as decoding a 1080p frame) runs on two worker threads while the
    range is decoded: OpenCV releases the GIL, so a 2-core machine encodes and decodes at once.
    """
    from mytalk.core.media.reader import FrameReader

    assert info.video is not None
    size = (info.video.width, info.video.height)
    if not wanted:
        return {}
    first, last = min(wanted), max(wanted) + 1
    jobs: dict[int, tuple[tuple[int, int, int, int], np.ndarray, np.ndarray | Future[bytes]]] = {}
    raw = 0
    with FrameReader(ref.path, info) as reader, ThreadPoolExecutor(max_workers=2) as pool:
        for source in reader.frames(first, last):
            if source.index not in wanted:
                continue
            check_cancelled(is_cancelled, f"reading reference frame {source.index}")
            lm = wanted[source.index]
            box = _crop_box(lm[list(LIPS), :2], float(iod_outer_corners(lm)), size)
            rgb = np.clip(read_box_rgb(source.frame, box) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            local = (lm[:, :2] - np.array([box[0], box[1]], np.float64)).astype(np.float32)
            if raw + rgb.nbytes <= raw_budget:
                raw += rgb.nbytes
                jobs[source.index] = (box, local, rgb)
            else:
                jobs[source.index] = (box, local, pool.submit(encode_crop, rgb))
        return {index: (box, local, crop if isinstance(crop, np.ndarray) else crop.result())
                for index, (box, local, crop) in jobs.items()}
