"""Mouth crops read from pieces of the frames kept while they were tracked, not from the footage decoded again.

An actor's crops are chosen once the tracking is finished, and used to be cut from the reference decoded a
second time: 0.2 s of the 512 px clip's cold preview, 0.8 s of the 22.7 s 720p clip's. A piece of each
frame around its mouth (`planes.FramePiece`), cut while the tracker holds the frame (`MouthPieces`), must read
exactly as the frame would, or a profile learned one way would paint differently from one learned the other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_composite_planes import noise_frame

from conftest import media_path
from mytalk.core.composite.planes import SUPPORTED_FORMATS, FramePiece, cut_piece, read_rgb
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic import profile_builder
from mytalk.core.engines.classic.profile_builder import build_profile
from mytalk.core.engines.classic.profile_crops import (
    CROP_MARGIN,
    MouthPieces,
    extract_crops,
    mouth_box,
)
from mytalk.core.errors import MediaFormatError, UsageError
from mytalk.core.face import FaceObservation, track_video
from mytalk.core.face.range_pool import track_ranges
from mytalk.core.media.probe import probe
from mytalk.core.media.reader import SourceFrame

CLIP = "hdtf_wda_katiehill_512.mp4"
FRAMES = 30


@pytest.mark.parametrize("fmt", sorted(SUPPORTED_FORMATS))
@pytest.mark.parametrize("size", [(64, 48), (67, 41)])  # odd sizes: a ragged last chroma column and row
def test_a_piece_reads_as_its_frame(fmt: str, size: tuple[int, int]) -> None:
    frame = noise_frame(fmt, *size, seed=3)
    w, h = size
    for cut in [(5, 3, 40, 30), (0, 0, w, h), (17, 9, w, h), (1, 1, 2, 2)]:
        piece = cut_piece(frame, cut)
        assert piece.holds(cut)
        x0, y0, x1, y1 = piece.box
        for box in [cut, (x0, y0, x1, y1), (x0 + 1, y0 + 1, x1, y1), (x1 - 1, y1 - 1, x1, y1)]:
            if box[0] >= box[2] or box[1] >= box[3]:
                continue  # a one-row piece has no box one row in
            for clip in (False, True):
                assert np.array_equal(piece.read_rgb(box, clip), read_rgb(frame, box, clip)), (cut, box, clip)


def test_a_piece_is_on_the_chroma_grid_and_refuses_a_box_it_does_not_hold() -> None:
    frame = noise_frame("yuv420p", 64, 48)
    piece = cut_piece(frame, (5, 3, 40, 31))
    assert piece.box == (4, 2, 40, 32)
    assert piece.nbytes == 36 * 30 + 2 * 18 * 15
    assert not piece.holds((3, 3, 20, 20)) and not piece.holds((10, 10, 41, 20))
    with pytest.raises(UsageError, match="not inside the piece"):
        piece.read_rgb((3, 3, 20, 20))


@pytest.mark.parametrize("fmt", ["nv12", "yuv410p"])
def test_a_format_only_swscale_reads_gives_no_piece(fmt: str) -> None:
    import av

    with pytest.raises(MediaFormatError):
        cut_piece(av.VideoFrame(64, 48, fmt), (0, 0, 16, 16))


def _tracked_with_pieces(pieces: MouthPieces) -> list[FaceObservation]:
    clip = media_path("video", CLIP)
    return track_video(clip, 0, FRAMES, use_cache=False,
                       on_tracked=lambda source, observation: pieces.keep(0, source, observation))


def _crops_equal(a: dict, b: dict) -> None:  # type: ignore[type-arg]
    assert a.keys() == b.keys()
    for index in a:
        (box_a, local_a, crop_a), (box_b, local_b, crop_b) = a[index], b[index]
        assert box_a == box_b and np.array_equal(local_a, local_b) and np.array_equal(crop_a, crop_b), index


def test_crops_read_from_pieces_are_the_crops_decoded_again() -> None:
    pieces = MouthPieces()
    observations = _tracked_with_pieces(pieces)
    clip = media_path("video", CLIP)
    info = probe(clip)
    assert info.video is not None
    size = (info.video.width, info.video.height)
    wanted = {o.index: o.landmarks.astype(np.float64) for o in observations if o.found}
    assert len(wanted) == FRAMES
    held = pieces.of_block(0)
    # Every finished (smoothed) mouth lies inside the piece cut from its mesh as tracked.
    assert all(held[i].holds(mouth_box(lm, size)) for i, lm in wanted.items())
    ref = ReferenceRange(str(clip), 0, FRAMES)
    decoded = extract_crops(ref, info, wanted, lambda: False)
    _crops_equal(extract_crops(ref, info, wanted, lambda: False, pieces=held), decoded)
    # Some frames without a piece, one whose piece is too small for its box: those are decoded again.
    partial: dict[int, FramePiece] = {i: p for i, p in held.items() if i % 3}
    partial[4] = cut_piece_of(clip, 4, wanted[4], size)
    assert not partial[4].holds(mouth_box(wanted[4], size))
    _crops_equal(extract_crops(ref, info, wanted, lambda: False, pieces=partial), decoded)


def cut_piece_of(clip: Path, index: int, landmarks: np.ndarray, size: tuple[int, int]) -> FramePiece:
    """A piece of frame `index` narrower than the crop's box."""
    from mytalk.core.media.reader import FrameReader

    with FrameReader(clip) as reader:
        source = next(iter(reader.frames(index, index + 1)))
        return cut_piece(source.frame, mouth_box(landmarks, size, CROP_MARGIN / 2))


def test_pieces_stop_at_their_budget_and_skip_frames_without_a_face() -> None:
    first = MouthPieces()
    _tracked_with_pieces(first)
    sizes = [p.nbytes for p in first.of_block(0).values()]
    assert len(sizes) == FRAMES
    budget = sum(sizes[:10]) + sizes[10] // 2
    bounded = MouthPieces(budget)
    _tracked_with_pieces(bounded)
    assert sorted(bounded.of_block(0)) == list(range(10))
    nothing = MouthPieces()
    source = SourceFrame(0, noise_frame("yuv420p", 64, 48), True)
    nothing.keep(0, source, FaceObservation.missing(0, "no face"))
    # A mesh as tracked that lies off the picture (a face leaving it) keeps nothing and raises nothing.
    mesh = np.zeros((478, 3), np.float32)
    mesh[:, :2] = 5000.0 + np.random.default_rng(1).random((478, 2), np.float32) * 50
    beyond = FaceObservation(index=0, found=True, landmarks=mesh, confidence=1.0, pose=(0.0, 0.0, 0.0),
                             box=(0, 0, 1, 1))
    nothing.keep(0, source, beyond)
    assert nothing.of_block(0) == {}


@pytest.mark.parametrize("threads", [1, 2])
def test_the_tracker_shows_each_frame_with_its_mesh_as_tracked_and_nothing_on_a_cache_hit(threads: int) -> None:
    clip = media_path("video", CLIP)
    seen: list[tuple[int, int, FaceObservation]] = []
    ranges = [ReferenceRange(str(clip), 0, 12), ReferenceRange(str(clip), 40, 50)]

    def tracked(block: int, source: SourceFrame, observation: FaceObservation) -> None:
        assert source.index == observation.index
        seen.append((block, source.index, observation))

    final = track_ranges(ranges, on_tracked=tracked, threads=threads)
    assert sorted((b, i) for b, i, _ in seen) == [(0, i) for i in range(12)] + [(1, i) for i in range(40, 50)]
    for block, index, raw in seen:
        done = final[block][index - ranges[block].start]
        assert raw.found and done.found
        # The mesh as tracked, before smoothing: within a few pixels of the finished one, in the same pixels.
        assert np.median(np.abs(raw.landmarks[:, :2] - done.landmarks[:, :2])) < 2.0
    seen.clear()
    track_ranges(ranges, on_tracked=tracked, threads=threads)
    assert seen == [], "a cached range is not decoded"


def test_a_profile_learns_the_same_crops_from_pieces_as_from_the_footage_decoded_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ref = [ReferenceRange(str(media_path("video", CLIP)), 0, 40)]
    with_pieces = build_profile(ref, use_cache=False).appearance
    monkeypatch.setattr(profile_builder, "MouthPieces", lambda: MouthPieces(0))
    decoded = build_profile(ref, use_cache=False).appearance
    assert np.array_equal(with_pieces.rows, decoded.rows) and np.array_equal(with_pieces.boxes, decoded.boxes)
    assert np.array_equal(with_pieces.landmarks, decoded.landmarks)
    assert len(with_pieces.crops) == len(decoded.crops) == 40
    assert all(np.array_equal(a, b) for a, b in zip(with_pieces.crops, decoded.crops, strict=True))
