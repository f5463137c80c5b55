"""A profile just learned keeps its crops raw until it is saved, and a job saves it after its first frame.

Encoding the crops as PNG and writing the profile took 0.5-0.8 s of a cold preview's way to its first
frame; the frame needs neither. What is painted must not depend on it: a raw crop reads back exactly as
its PNG does, so a job that learned the actor and one that loaded it from the cache paint the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import media_path
from mytalk.core.engines.actors import AppearanceIndex
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic.profile import ActorProfile
from mytalk.core.engines.classic.profile_builder import build_profile
from mytalk.core.engines.classic.profile_crops import extract_crops
from mytalk.core.media.probe import probe

CLIP = "hdtf_wda_katiehill_512.mp4"


def test_a_profile_just_learned_keeps_its_crops_raw_and_reads_them_as_the_saved_one(tmp_path: Path) -> None:
    profile = build_profile([ReferenceRange(str(media_path("video", CLIP)), 0, 40)])
    crops = profile.appearance.crops
    assert crops and all(isinstance(c, np.ndarray) and c.dtype == np.uint8 for c in crops)
    assert profile.appearance.nbytes is None, "the stored size is not known before the crops are encoded"
    learned = [profile.appearance.image(k).copy() for k in range(len(profile.appearance))]
    profile.save(tmp_path / "p")
    assert all(isinstance(c, bytes) for c in profile.appearance.crops), "encoded in place when saved"
    stored = sum(p.stat().st_size for p in (tmp_path / "p" / "crops").glob("*.png"))
    assert profile.appearance.nbytes == stored
    loaded = ActorProfile.load(tmp_path / "p").appearance
    for k, image in enumerate(learned):
        fresh = AppearanceIndex(loaded.rows, loaded.boxes, loaded.landmarks, loaded.crops, cache_size=0)
        assert np.array_equal(fresh.image(k), image), k


def test_crops_beyond_the_raw_budget_are_encoded_as_they_are_cut() -> None:
    from mytalk.core.face.video_tracking import track_video

    clip = media_path("video", CLIP)
    observations = track_video(clip, 0, 6)
    wanted = {o.index: o.landmarks.astype(np.float64) for o in observations if o.found}
    raw = extract_crops(ReferenceRange(str(clip), 0, 6), probe(clip), wanted, lambda: False)
    sizes = [crop.nbytes for _, _, crop in raw.values() if isinstance(crop, np.ndarray)]
    assert len(sizes) == len(raw) == 6
    mixed = extract_crops(ReferenceRange(str(clip), 0, 6), probe(clip), wanted, lambda: False,
                          raw_budget=sizes[0] + sizes[1])
    kinds = [type(crop) for _, _, crop in mixed.values()]
    assert kinds[:2] == [np.ndarray, np.ndarray] and all(kind is bytes for kind in kinds[2:]) and len(kinds) == 6
    for index, (box, local, crop) in mixed.items():
        index_ = AppearanceIndex(np.zeros(1), np.array([box]), local[None], [crop], cache_size=0)
        assert np.array_equal(index_.image(0), raw[index][2].astype(np.float32) * np.float32(1 / 255)), index


def test_a_job_saves_the_profile_it_learned_after_its_first_frame_and_before_it_ends(tmp_path: Path) -> None:
    from mytalk.core.jobs.request import SyncRequest
    from mytalk.core.jobs.sync import run_sync
    from mytalk.core.userdirs import user_dirs

    profiles = user_dirs().cache / "classic-profiles"
    seen_at_first_frame: list[list[Path]] = []

    def on_frame(index: int, frame: object) -> None:
        if index == 0:
            seen_at_first_frame.append(sorted(profiles.glob("*/profile.json")))

    request = SyncRequest(video=media_path("video", CLIP), audio=media_path("audio", "jfk_inaugural_en_16k.wav"),
                          output=tmp_path / "out.mkv", in_point="40", out_point="60", engine="classic", codec="ffv1")
    first = run_sync(request, on_frame=on_frame).report
    assert seen_at_first_frame == [[]], "nothing was saved before the first frame"
    assert len(list(profiles.glob("*/profile.json"))) == 1, "saved before the job ended"
    assert first["engine_report"]["profile"]["from_cache"] is False
    again = run_sync(SyncRequest(**{**request.__dict__, "output": tmp_path / "again.mkv"})).report
    assert again["engine_report"]["profile"]["from_cache"] is True
    assert [f["mask_box"] for f in again["frames"]] == [f["mask_box"] for f in first["frames"]]
