"""The panel's preview shows what a commit delivers, arrives frame by frame, and starts at once once prepared.

- Preview = commit, apart from size and codec: on three shared clips (512 px, 720p, a vertical HEVC
  phone clip) the preview proxy and the committed file, scaled to the proxy's size the way the proxy
  writer scales, agree to at least `MIN_MOUTH_PSNR_DB` inside the region the commit changed. The
  preview used to paint with cheaper settings (a working scale, a coarser warp, alpha blending) and
  showed pale lips and a tooth patch at closed-mouth frames that the commit did not have (27 dB).
- The frames stream: every rendered frame is on disk, at proxy size, before the proxy is complete.
- `prepare` leaves the tracking, the actor profile and the line's phones in the caches, so the
  preview that follows takes all three from there.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import media_path
from mytalk.core.jobs import commands
from mytalk.core.jobs.preview_stream import streamed_frame_name
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.media.writer import proxy_size

LINE = "jfk_inaugural_en_16k.wav"
MIN_MOUTH_PSNR_DB = 35.0
CLIPS = ("hdtf_wda_katiehill_512.mp4", "wav2lip_pr600_man_720p_cutaway.mov", "latentsync_demo2_man_vertical_hevc.mp4")
FRAMES = 20


def _request(clip: Path, out: Path) -> SyncRequest:
    # The actor is learned from the first three seconds only, to keep the test short; preview and commit
    # learn it from the same frames, as they would from the whole clip.
    return SyncRequest(video=clip, audio=media_path("audio", LINE), output=out, in_point="10",
                       out_point=str(10 + FRAMES), references=["0-75"], engine="classic")


def _decoded(path: Path, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """RGB frames; scaled to `size` by swscale's bilinear filter, as the proxy writer scales."""
    with av.open(str(path)) as container:
        return [frame.reformat(width=size[0], height=size[1], interpolation="BILINEAR").to_ndarray(format="rgb24")
                if size else frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _source(path: Path, start: int, count: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for _, frame in zip(range(start + count), container.decode(video=0), strict=False)]
    return frames[start:]


@pytest.mark.parametrize("name", CLIPS)
def test_the_preview_matches_the_commit_in_the_mouth_at_proxy_size(name: str, tmp_path: Path) -> None:
    clip = media_path("video", name)
    session = commands.JobSession(preview_dir=tmp_path / "previews")
    request = _request(clip, tmp_path / "renders")
    preview = commands.preview(session, request)
    committed = commands.commit(session, replace(request, codec="ffv1"))
    proxy = _decoded(preview.path)
    height, width = proxy[0].shape[:2]
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (width, height) == proxy_size(stream.width, stream.height, 540)
    final_full = _decoded(committed.output)
    final = _decoded(committed.output, (width, height))
    source = _source(clip, 10, FRAMES)
    assert len(proxy) == len(final) == len(source) == FRAMES
    scores = []
    for shown, delivered, full, original in zip(proxy, final, final_full, source, strict=True):
        changed = np.abs(full.astype(np.int16) - original.astype(np.int16)).max(axis=2) > 2
        region = cv2.resize(changed.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
        if region.sum() < 20:
            continue
        error = (shown.astype(np.float64) - delivered.astype(np.float64))[region]
        scores.append(10 * np.log10(255.0**2 / max(float((error**2).mean()), 1e-9)))
    assert len(scores) >= FRAMES // 2, "the commit changed the mouth on most frames"
    print(f"{name}: mouth-region PSNR preview vs commit over {len(scores)} frames: "
          f"median {np.median(scores):.1f} dB, worst {min(scores):.1f} dB")
    assert min(scores) >= MIN_MOUTH_PSNR_DB


def test_a_preview_streams_every_frame_before_its_proxy_is_done(tmp_path: Path) -> None:
    clip = media_path("video", "retalking_face2_swalwell.mp4")
    session = commands.JobSession(preview_dir=tmp_path / "previews")
    told: list[tuple[int, int, int, bool]] = []
    seen: dict[int, np.ndarray] = {}

    def on_frames(folder: Path, ready: int, start: int, stop: int) -> None:
        proxy_done = any(p.suffix == ".mp4" and not p.name.startswith(".") for p in session.preview_dir.iterdir())
        told.append((ready, start, stop, proxy_done))
        for offset in range(ready):
            image = cv2.imread(str(folder / streamed_frame_name(offset)))
            assert image is not None, f"frame {offset} was announced before it was on disk"
            seen[offset] = image[..., ::-1]

    request = SyncRequest(video=clip, audio=media_path("audio", LINE), output=tmp_path, in_point="5", out_point="30")
    result = commands.preview(session, request, on_frames=on_frames)
    readies = [t[0] for t in told]
    assert readies[0] == 1 and readies[-1] == 25 and readies == sorted(readies)
    assert all(t[1:3] == (5, 30) and not t[3] for t in told), "every count came before the proxy existed"
    left = sorted(p.name for p in session.preview_dir.iterdir())
    assert left == [result.path.name], f"the frames folder goes once the proxy is there: {left}"
    proxy = _decoded(result.path)
    for offset, image in seen.items():
        assert image.shape == proxy[offset].shape
        assert float(np.abs(image.astype(np.int16) - proxy[offset].astype(np.int16)).mean()) < 3.0


def test_prepare_leaves_what_the_preview_needs_in_the_caches(tmp_path: Path) -> None:
    clip = media_path("video", "retalking_face2_swalwell.mp4")
    session = commands.JobSession(preview_dir=tmp_path / "previews")
    request = SyncRequest(video=clip, audio=media_path("audio", LINE), output=tmp_path, in_point="5", out_point="30",
                          engine="classic")
    prepared = commands.prepare(session, request)
    assert (prepared.start, prepared.stop) == (5, 30)
    assert not list(session.preview_dir.iterdir()), "prepare renders nothing"
    stages: list[tuple[int, int, str]] = []
    result = commands.preview(session, request, lambda done, total, stage: stages.append((done, total, stage)))
    engine = result.report["engine_report"]
    assert engine["profile"]["from_cache"] is True
    assert engine["phones"]["from_cache"] is True
    tracking = [s for s in stages if s[2] == "face tracking"]
    # Opened at 0 (the count the whole-job ETA needs), then whole at once: the range and its handles
    # came from the tracking cache.
    assert tracking == [(0, 25, "face tracking"), (25, 25, "face tracking")], tracking
    assert not any(s[2].startswith("learning the actor") for s in stages)
