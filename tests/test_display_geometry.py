"""Rotated (phone) and anamorphic (HDV, 2x squeeze) clips: tracked as shown, painted and written as stored.

The real clip `hdtf_wda_katiehill_512` is re-encoded the way a phone stores portrait video (on its side,
with a display rotation) and the way an anamorphic camera stores it (squeezed, with a sample aspect).
Before `core.face.display`, the first tracked 42 % of its frames and the second none.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import media_path
from mytalk.core.face.display import DisplayGeometry
from mytalk.core.face.video_tracking import track_video
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.jobs.sync import run_sync
from mytalk.core.media.probe import probe

CLIP = "hdtf_wda_katiehill_512.mp4"
LINE = "jfk_inaugural_en_16k.wav"
FRAMES = 40


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("aspect", [Fraction(1), Fraction(4, 3), Fraction(2), Fraction(8, 9)])
def test_every_stored_pixel_lands_where_the_shown_picture_has_it(rotation: int, aspect: Fraction) -> None:
    geometry = DisplayGeometry(36, 20, rotation, aspect)
    stored = np.random.default_rng(7).integers(0, 255, (20, 36, 3), dtype=np.uint8)
    shown = geometry.to_display(stored)
    wide = geometry.desqueezed_width
    assert shown.shape[:2] == ((20, wide) if rotation in (0, 180) else (wide, 20))
    for x, y in ((0.5, 0.5), (35.5, 0.5), (10.5, 17.5), (35.5, 19.5)):
        dx, dy = geometry.point_to_display(x, y)
        assert np.allclose(geometry.points_to_stored(np.array([dx, dy, 3.0])), [x, y, 3.0])
        if aspect == 1:  # pixel for pixel: the stored pixel's centre is that pixel's centre when shown
            assert (shown[int(dy), int(dx)] == stored[int(y), int(x)]).all()


def _reencode(source: Path, target: Path, *, rotation: int = 0, squeeze: Fraction = Fraction(1)) -> Path:
    """The first FRAMES frames of `source` stored turned clockwise by `rotation` (shown turned back) and
    squeezed to 1/`squeeze` of their stored width (shown desqueezed), in ProRes."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = out.add_stream("prores_ks", rate=25)
        first = True
        for index, frame in enumerate(inp.decode(video=0)):
            if index == FRAMES:
                break
            # Turned first, then squeezed along the stored rows: a sample aspect is the stored pixel's.
            picture = np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), -(rotation // 90)))
            if squeeze != 1:
                picture = cv2.resize(picture, (round(picture.shape[1] / squeeze), picture.shape[0]),
                                     interpolation=cv2.INTER_AREA)
            if first:
                stream.width, stream.height, stream.pix_fmt = picture.shape[1], picture.shape[0], "yuv422p10le"
                if squeeze != 1:
                    stream.codec_context.sample_aspect_ratio = squeeze
                if rotation:
                    stream.set_display_rotation(rotation)
                first = False
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv422p10le")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return target


@pytest.mark.parametrize("rotation, squeeze", [(90, Fraction(1)), (270, Fraction(1)), (0, Fraction(4, 3)),
                                               (90, Fraction(4, 3))])
def test_a_turned_or_squeezed_clip_is_tracked_as_its_upright_original(
        tmp_path: Path, isolated_user_dirs: Path, rotation: int, squeeze: Fraction) -> None:
    original = _reencode(media_path("video", CLIP), tmp_path / "upright.mov")
    stored = _reencode(media_path("video", CLIP), tmp_path / "stored.mov", rotation=rotation, squeeze=squeeze)
    info = probe(stored).video
    assert info is not None and (info.rotation, info.sample_aspect) == (rotation, squeeze)
    upright = track_video(original, 0, FRAMES)
    turned = track_video(stored, 0, FRAMES)
    assert all(o.found for o in upright) and all(o.found for o in turned), \
        f"{sum(o.found for o in turned)} of {FRAMES} frames tracked"
    geometry = DisplayGeometry.of(info)
    for a, b in zip(upright, turned, strict=True):
        shown = np.array([geometry.point_to_display(x, y) for x, y in b.landmarks[:, :2]])
        assert np.median(np.linalg.norm(shown - a.landmarks[:, :2], axis=1)) < 3.0, a.index
        x0, y0, x1, y1 = b.box  # the box is of the stored landmarks
        assert x0 <= b.landmarks[:, 0].min() and b.landmarks[:, 0].max() <= x1
        assert y0 <= b.landmarks[:, 1].min() and b.landmarks[:, 1].max() <= y1


def test_pieces_of_a_turned_squeezed_clip_are_cut_in_stored_pixels(tmp_path: Path) -> None:
    """The mesh a tracker shows as it goes (`on_tracked`) is in the stored frame's pixels, as the finished one is:
    the pieces of the frames kept for the actor's crops (`profile_crops.MouthPieces`) hold every crop's box."""
    from mytalk.core.engines.classic.profile_crops import MouthPieces, mouth_box

    stored = _reencode(media_path("video", CLIP), tmp_path / "stored.mov", rotation=90, squeeze=Fraction(4, 3))
    info = probe(stored).video
    assert info is not None
    pieces = MouthPieces()
    final = track_video(stored, 0, FRAMES, use_cache=False,
                        on_tracked=lambda source, observation: pieces.keep(0, source, observation))
    held = pieces.of_block(0)
    found = [o for o in final if o.found]
    assert len(found) == FRAMES
    assert all(held[o.index].holds(mouth_box(o.landmarks, (info.width, info.height))) for o in found)


def test_a_render_of_a_turned_squeezed_clip_keeps_its_rotation_and_aspect(tmp_path: Path,
                                                                           isolated_user_dirs: Path) -> None:
    stored = _reencode(media_path("video", CLIP), tmp_path / "stored.mov", rotation=90, squeeze=Fraction(4, 3))
    output = tmp_path / "fixed.mov"
    result = run_sync(SyncRequest(video=stored, audio=media_path("audio", LINE), output=output, engine="classic",
                                  in_point="0", out_point=str(FRAMES), report=tmp_path / "fixed.json"))
    assert result.frames_written == FRAMES
    report = json.loads((tmp_path / "fixed.json").read_text())
    assert report["tracking"]["faceless_frames"] == []
    assert sum(f["changed_pixels"] > 0 for f in report["frames"]) == FRAMES
    written = probe(output).video
    assert written is not None and (written.rotation, written.sample_aspect) == (90, Fraction(4, 3))


@pytest.mark.parametrize("rotation, aspect", [(90, Fraction(4, 3)), (270, Fraction(1)), (0, Fraction(2))])
def test_the_viewer_shows_the_picture_as_shown_and_picks_in_stored_pixels(qtbot, rotation: int,  # type: ignore[no-untyped-def]
                                                                          aspect: Fraction) -> None:
    """The panel's picture is drawn turned and desqueezed, as players show the clip; a click still
    gives the stored pixel the tracker's `--face X,Y` means, and a stored point is drawn where it shows."""
    from PySide6.QtCore import QPointF

    from mytalk.ui.viewer import ViewerWidget

    stored = np.zeros((120, 160, 3), np.uint8)
    stored[20:30, 100:110] = (255, 0, 0)  # a red mark around stored pixel (105, 25)
    geometry = DisplayGeometry(160, 120, rotation, aspect)
    viewer = ViewerWidget()
    qtbot.addWidget(viewer)
    viewer.resize(800, 800)
    viewer.set_source_size((160, 120))
    viewer.set_geometry(geometry)
    viewer.set_frames(stored)
    rect = viewer.image_rect()
    shown_w, shown_h = geometry.shown_size
    assert abs(rect.width() / rect.height() - shown_w / shown_h) < 0.01, "drawn with the shape it is shown with"
    point = viewer.from_source(105.0, 25.0)
    assert np.allclose(viewer.to_source(point), (105.0, 25.0), atol=1e-6)
    grabbed = viewer.grab().toImage()
    colour = grabbed.pixelColor(round(point.x()), round(point.y()))
    assert (colour.red(), colour.green(), colour.blue()) == (255, 0, 0), "the mark is drawn where the point maps"
    assert viewer.to_source(QPointF(rect.x() - 5, rect.y())) is None
