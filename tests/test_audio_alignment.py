"""Guide alignment: DTW properties, re-timed self-alignment against an exact ground truth on the
clips' own audio, and the ``--guide auto`` cost threshold separating matched from unmatched lines.

Calibration of `GUIDE_COST_THRESHOLD` (0.6), measured with `benchmarks/bench_audio.py --calibrate`
on all 15 shared tracks (the 9 videos' own audio and the 6 speech files, the noisy one included):
- matched, the track vs itself re-timed at its pauses: 0.05-0.28;
- matched and degraded like another take (re-timed, then 4 % faster or slower with the pitch
  moving along, a microphone tilt and pink noise at 15 dB SNR): 0.35-0.46;
- unmatched, vs another speaker's line of the same length (210 pairs): 0.72-0.87, median 0.79;
- unmatched, same speaker and microphone, other words (halves of the 5 tracks of >= 10 s):
  0.76-0.82.
The threshold sits 0.14 above the worst matched line and 0.12 under the best unmatched one (the
midpoint, 0.59, rounded up a little: a real second take differs more than these simulations).
Not measured, for lack of such recordings here: a real re-take by the same actor.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from benchmarks.bench_audio import align_tracks, crop, degraded_take
from conftest import media_path
from mytalk.core.audio import GUIDE_COST_THRESHOLD, align_to_guide, decide_guide, retime_at_pauses
from mytalk.core.audio.alignment import anchor_pauses, default_band, dtw
from mytalk.core.errors import JobCancelledError
from mytalk.core.media import AudioTrack, decode_audio, probe

RATE = 16000

# (clip, fps): 25 fps MPEG-4, 30 fps .mov with a cutaway, the odd 1350/61, 30 fps, low-res TV.
SELF_ALIGN_CLIPS = [
    "hdtf_wda_katiehill_512.mp4",
    "wav2lip_pr600_man_720p_cutaway.mov",
    "retalking_face1_man_suit.mp4",
    "retalking_face4_woman_bluebg.mp4",
    "voxceleb2_00104_man_tv_224.mp4",
]


def _line_frames(track: AudioTrack, fps: Fraction) -> int:
    return int(round(Fraction(track.num_samples) * fps / track.rate))


# --- DTW mechanics ---------------------------------------------------------------------------


def test_identical_sequences_align_on_the_diagonal() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 26))
    result = align_to_guide(x, x)
    assert np.array_equal(result.path, np.stack([np.arange(120)] * 2, axis=1))
    assert np.allclose(result.time_map, np.arange(120))
    assert result.cost == pytest.approx(0.0, abs=1e-9) and result.matched


def test_path_is_monotone_and_inside_the_band() -> None:
    rng = np.random.default_rng(1)
    guide = rng.standard_normal((300, 26))
    # A line that lingers: guide frames repeated where a pause would be stretched.
    index = np.concatenate([np.arange(100), np.full(20, 100), np.arange(100, 300)])
    line = guide[index] + 0.05 * rng.standard_normal((index.size, 26))
    result = align_to_guide(line, guide, band=30)
    path = result.path
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (index.size - 1, 299)
    steps = np.diff(path, axis=0)
    assert (steps >= 0).all() and (steps.sum(axis=1) >= 1).all() and (steps <= 1).all()
    centre = path[:, 0] * (299 / (index.size - 1))
    assert np.abs(path[:, 1] - centre).max() <= 31
    assert (np.diff(result.time_map) >= -1e-9).all()
    assert np.mean(np.abs(result.time_map - index) <= 1) > 0.95


def test_band_limits_wild_jumps() -> None:
    """A repeated word far away cannot capture the path: it stays within the band."""
    rng = np.random.default_rng(2)
    guide = rng.standard_normal((200, 8))
    line = guide.copy()
    line[20:40] = guide[160:180]  # the line "says" a late word early
    path, _ = dtw(line, guide, band=15)
    centre = path[:, 0] * (199 / 199)
    assert np.abs(path[:, 1] - centre).max() <= 16


def test_tiny_and_bad_inputs() -> None:
    one = np.ones((1, 4))
    result = align_to_guide(one, np.ones((5, 4)))
    assert result.time_map.shape == (1,) and 0 <= result.time_map[0] <= 4
    assert align_to_guide(np.ones((5, 4)), one).time_map.tolist() == [0.0] * 5
    with pytest.raises(ValueError):
        align_to_guide(np.ones((5, 4)), np.ones((5, 3)))
    with pytest.raises(ValueError):
        align_to_guide(np.ones((0, 4)), np.ones((5, 4)))
    with pytest.raises(ValueError):
        align_to_guide(np.ones((5, 4)), np.ones((5, 4)), line_voiced=np.ones(4, bool))
    assert default_band(100, 100) == 25 and default_band(10, 10) == 12 and default_band(4000, 4000) == 400


def test_progress_and_cancel() -> None:
    x = np.random.default_rng(3).standard_normal((600, 4))
    seen: list[tuple[int, int, str]] = []
    align_to_guide(x, x, progress=lambda done, total, stage: seen.append((done, total, stage)))
    assert seen[-1] == (600, 600, "guide alignment") and len(seen) >= 3
    with pytest.raises(JobCancelledError):
        align_to_guide(x, x, is_cancelled=lambda: True)


def test_pause_anchoring_splits_pauses_at_their_middle() -> None:
    # Words map to guide 0-9 and 30-39; the line's pause is 6 frames, the guide's gap 20 frames.
    raw = np.concatenate([np.arange(10), np.linspace(10, 29, 6), np.arange(30, 40)]).astype(float)
    voiced = np.ones(26, bool)
    voiced[10:16] = False
    out = anchor_pauses(raw, voiced, 40)
    assert out[10:13].tolist() == [10, 11, 12]  # first half follows the word before
    assert out[13:16].tolist() == [27, 28, 29]  # second half leads into the next word
    # A stretched pause (16 line frames for a 4-frame gap) holds the gap's middle.
    raw = np.concatenate([np.arange(10), np.linspace(10, 13, 16), np.arange(14, 24)]).astype(float)
    voiced = np.ones(36, bool)
    voiced[10:26] = False
    out = anchor_pauses(raw, voiced, 24)
    assert out[10:12].tolist() == [10, 11] and out[24:26].tolist() == [12, 13]
    assert np.allclose(out[12:24], 11.5) and (np.diff(out) >= 0).all()


def test_decide_guide() -> None:
    assert decide_guide(0.2).matched and not decide_guide(0.9).matched
    assert not decide_guide(float("nan")).matched
    assert decide_guide(float("nan")).to_dict()["guide_cost"] is None  # JSON has no NaN
    decision = decide_guide(0.5, threshold=0.4)
    assert not decision.matched and decision.to_dict() == {
        "guide_matched": False, "guide_cost": 0.5, "guide_threshold": 0.4
    }


# --- real audio --------------------------------------------------------------------------------


@pytest.mark.media
def test_retimed_line_copies_words_exactly() -> None:
    guide = decode_audio(media_path("video", "hdtf_wda_katiehill_512.mp4"), RATE)
    fps = Fraction(25)
    retimed = retime_at_pauses(guide, fps, np.random.default_rng(0))
    assert retimed.edits and all(0.1 <= abs(e.change_s) <= 0.3 + 1e-6 for e in retimed.edits)
    assert retimed.track.num_samples == guide.num_samples + round(sum(e.change_s for e in retimed.edits) * RATE)
    for start, length, source, is_copy in retimed.pieces:
        if is_copy and length > 400:
            # Past the 5 ms cross-fade, every sample is the guide's own.
            a, b = start + 100, start + length
            assert np.array_equal(retimed.track.samples[0, a:b], guide.samples[0, source + 100 : source + length])
    assert retimed.time_map.shape == (_line_frames(retimed.track, fps),)
    assert (np.diff(retimed.time_map) >= 0).all()


@pytest.mark.media
@pytest.mark.parametrize("clip", SELF_ALIGN_CLIPS)
def test_retimed_self_alignment_recovers_the_time_map(clip: str) -> None:
    """Measured (3 seeds x 9 clips): 97.6-100 % of frames within +-1 frame, 100 % of voiced frames
    on all but two runs (96.9 % and 98.8 %)."""
    path = media_path("video", clip)
    fps = probe(path).video.fps
    guide = decode_audio(path, RATE)
    for seed in (0, 1):
        retimed = retime_at_pauses(guide, fps, np.random.default_rng(seed))
        result = align_tracks(retimed.track, guide, fps)
        error = np.abs(result.time_map - retimed.time_map)
        assert np.mean(error <= 1.0) >= 0.95, (seed, np.mean(error <= 1.0))
        assert result.matched and result.cost < GUIDE_COST_THRESHOLD - 0.15


@pytest.mark.media
def test_cost_separates_matched_from_unmatched_lines() -> None:
    """Matched (re-timed, also degraded) lines stay well under the threshold; other speakers' lines
    and the same speaker's other words stay well over it. See the module docstring for the figures."""
    fps = Fraction(25)
    guides = {
        name: decode_audio(media_path(kind, name), RATE)
        for kind, name in [
            ("video", "hdtf_wda_bobmenendez_512.mp4"),
            ("video", "retalking_face2_swalwell.mp4"),
            ("audio", "dreamtalk_noisy_meeting_snr10_en_16k.wav"),
            ("audio", "jfk_inaugural_en_16k.wav"),
        ]
    }
    others = [decode_audio(media_path("audio", n), RATE) for n in ("iplap_lecture_en_44k.wav", "gfpgan_kimk_speech_en_48k.mp3")]
    matched, unmatched = [], []
    for k, guide in enumerate(guides.values()):
        retimed = retime_at_pauses(guide, fps, np.random.default_rng(k)).track
        matched.append(align_tracks(retimed, guide, fps).cost)
        matched.append(align_tracks(degraded_take(retimed, faster=k % 2 == 0, seed=k), guide, fps).cost)
        for other in [*others, *[g for g in guides.values() if g is not guide][:1]]:
            unmatched.append(align_tracks(crop(other, 0.0, guide.duration_s), guide, fps).cost)
    # Same voice, same microphone, other words: the hardest unmatched case.
    jfk = guides["jfk_inaugural_en_16k.wav"]
    unmatched.append(align_tracks(crop(jfk, 5.5, 5.5), crop(jfk, 0.0, 5.5), fps).cost)
    assert max(matched) < GUIDE_COST_THRESHOLD - 0.08, matched
    assert min(unmatched) > GUIDE_COST_THRESHOLD + 0.08, unmatched
