"""The appearance part of a profile: which reference frames keep a mouth crop, and cutting them.

A profile keeps crops of a bounded subset of its frames, near-identical mouths dropped, so memory
and build time stay bounded however long the footage is. Crops are cut from the decoded frames
unresampled (the renderer resamples a mouth once, when it warps it) and stored as PNG bytes. A profile
just learned keeps them raw, up to `RAW_CROPS_BYTES`, until it is saved (`actors.AppearanceIndex`): a cold
preview's first frame does not wait for their encoding.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from typing import TYPE_CHECKING, cast

import numpy as np

from mytalk.core.composite.one_instant import one_instant
from mytalk.core.composite.planes import FramePiece, cut_piece, read_box_rgb
from mytalk.core.engines.actors import encode_crop
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic.geometry import LIPS_POS
from mytalk.core.engines.classic.profile import ReferenceFrames
from mytalk.core.errors import MediaFormatError
from mytalk.core.face.canonical import iod_outer_corners
from mytalk.core.face.observation import FaceObservation
from mytalk.core.face.regions import LIPS
from mytalk.core.media.decoded_fields import first_field_row
from mytalk.core.media.probe import MediaInfo
from mytalk.core.progress import CancelFn, check_cancelled

if TYPE_CHECKING:
    from mytalk.core.media.reader import SourceFrame

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

PIECE_SLACK = 0.15
"""How much wider than a crop's box (in outer-eye-corner distances, each way) `MouthPieces` keeps around the
mouth as tracked, for the finished mesh's box to fall inside."""

PIECES_BYTES = 256 * 2**20
"""At most this much of the reference frames is kept in pieces while an actor is learned (`MouthPieces`): the
200 frames of the 512 px `hdtf_wda_katiehill_512` take 16 MB, the 503 of the 1080 x 1920
`latentsync_demo2_man_vertical_hevc` 43 MB, the 20 s sample (500 frames) of a 1920 x 1080 ProRes 422 HQ clip
114 MB (10-bit samples: 2 bytes each). Past it (a UHD close-up) the later crops are decoded again. The budget
was 64 MB until session 31: the ProRes sample then kept 280 of its pieces, and decoding the rest again
(15 ms of CPU a ProRes frame) cost 0.7 s of its 8-10 s learning (`benchmarks.bench_learning --camera`)."""


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


def mouth_box(landmarks: np.ndarray, size: tuple[int, int], margin_iod: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) of a mesh's lips, `margin_iod` outer-eye-corner distances wider each way,
    inside a (width, height) frame: a crop's box at `CROP_MARGIN`."""
    landmarks = np.asarray(landmarks, np.float64)
    points = landmarks[list(LIPS), :2]
    margin = margin_iod * float(iod_outer_corners(landmarks))
    x0 = int(np.floor(points[:, 0].min() - margin))
    y0 = int(np.floor(points[:, 1].min() - margin))
    x1 = int(np.ceil(points[:, 0].max() + margin))
    y1 = int(np.ceil(points[:, 1].max() + margin))
    w, h = size
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


class MouthPieces:
    """The pieces of reference frames (`planes.FramePiece`) around each tracked mouth, cut as the tracker
    sees the frames (`range_pool.track_ranges`' `on_tracked`), so that the crops chosen once the tracking
    is finished (`extract_crops`) are read without decoding the footage again.

    A piece is the crop's box (`mouth_box`) of the mesh as tracked, `PIECE_SLACK` wider each way: the
    finished mesh, smoothed, moves by far less, and a crop whose box still leaves its piece is decoded as
    before. Pieces stop being kept past `budget` bytes. Tracking threads call `keep` at once."""

    def __init__(self, budget: int = PIECES_BYTES) -> None:
        self.budget = budget
        self._held = 0
        self._pieces: dict[tuple[int, int], FramePiece] = {}
        self._lock = threading.Lock()

    def keep(self, block: int, source: SourceFrame, observation: FaceObservation) -> None:
        """Keep the piece of reference `block`'s frame `source` around the mouth `observation` found."""
        if not observation.found or self._held >= self.budget:
            return
        frame = source.frame
        box = mouth_box(observation.landmarks, (frame.width, frame.height), CROP_MARGIN + PIECE_SLACK)
        if box[0] >= box[2] or box[1] >= box[3]:
            return  # a mesh as tracked off the picture: nothing to keep (its crop, if any, is decoded again)
        try:
            piece = cut_piece(frame, box)
        except MediaFormatError:
            return  # a format only swscale reads: its crops are decoded again (`read_box_rgb`)
        with self._lock:
            if self._held + piece.nbytes <= self.budget:
                self._pieces[(block, source.index)] = piece
                self._held += piece.nbytes
            else:
                self._held = self.budget  # full: later frames are decoded again

    def of_block(self, block: int) -> dict[int, FramePiece]:
        """Reference `block`'s pieces by clip frame index."""
        with self._lock:
            return {index: piece for (b, index), piece in self._pieces.items() if b == block}


def extract_crops(
    ref: ReferenceRange,
    info: MediaInfo,
    wanted: dict[int, np.ndarray],
    is_cancelled: CancelFn,
    raw_budget: int = RAW_CROPS_BYTES,
    pieces: Mapping[int, FramePiece] | None = None,
) -> dict[int, tuple[tuple[int, int, int, int], np.ndarray, bytes | np.ndarray]]:
    """The wanted frames' lower-face crops: frame → (box, landmarks, crop).

    A crop is read from its frame's piece where `pieces` holds one around its box (`MouthPieces`), else
    from the range decoded again, from the first such frame to the last. Either way the same floats.
    A crop is RGB uint8 while the crops kept raw stay within `raw_budget` bytes (in frame order), PNG bytes
    after that. PNG encoding (about as slow as decoding a 1080p frame) runs on two worker threads while the
    range is decoded: OpenCV releases the GIL, so a 2-core machine encodes and decodes at once.
    """
    from mytalk.core.media.reader import FrameReader

    assert info.video is not None
    size = (info.video.width, info.video.height)
    if not wanted:
        return {}
    pieces = pieces or {}
    ordered = sorted(wanted)
    boxes = {index: mouth_box(wanted[index], size) for index in ordered}
    missing = [index for index in ordered if index not in pieces or not pieces[index].holds(boxes[index])]
    jobs: dict[int, tuple[tuple[int, int, int, int], np.ndarray, np.ndarray | Future[bytes]]] = {}
    raw = 0
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=2) as pool:
        decoded: Iterator[SourceFrame] = iter(())
        if missing:
            reader = stack.enter_context(FrameReader(ref.path, info))
            # Closed before the reader (the stack unwinds in reverse), wherever the loop stops.
            decoded = stack.enter_context(closing(cast("Generator[SourceFrame, None, None]",
                                                       reader.frames(missing[0], missing[-1] + 1))))
        redo = set(missing)
        for index in ordered:
            check_cancelled(is_cancelled, f"reading reference frame {index}")
            box = boxes[index]
            if index in redo:
                source = next((s for s in decoded if s.index == index), None)
                if source is None:
                    continue  # the footage ended before its probed length
                linear = read_box_rgb(source.frame, box)
                interlaced, kept_row = bool(source.frame.interlaced_frame), first_field_row(source.frame)
            else:
                linear = pieces[index].read_rgb(box, clip=True)
                interlaced, kept_row = pieces[index].interlaced, pieces[index].first_field_row
            if interlaced:  # a mouth to paint with, at one instant (`one_instant`)
                linear = one_instant(linear, box[1], kept_row)
            rgb = np.clip(linear * 255.0 + 0.5, 0, 255).astype(np.uint8)
            local = (wanted[index][:, :2] - np.array([box[0], box[1]], np.float64)).astype(np.float32)
            if raw + rgb.nbytes <= raw_budget:
                raw += rgb.nbytes
                jobs[index] = (box, local, rgb)
            else:
                jobs[index] = (box, local, pool.submit(encode_crop, rgb))
        return {index: (box, local, crop if isinstance(crop, np.ndarray) else crop.result())
                for index, (box, local, crop) in jobs.items()}
