"""How far the shift protocol's lip-error ratio can fall for a speech-driven mouth, measured per clip.

    .venv/bin/python -m benchmarks.shift_ceiling [--clips A.mp4,B.mp4] [--json OUT.json]

The shift protocol (docs: evaluation.md) drives the last 60 % of a clip with its own sound moved
D = 0.4 s earlier, lets the tool learn only from the first 40 %, and scores the lips of output
frame t against the source lips of frame t - D, over "do nothing". This script separates the two
things that limit a mouth-only tool there, on the tracked landmarks alone (no rendering):

- **perfect**: the true frontal lips of frame t - D, carried by the head of frame t (the tool
  keeps the actor's head where it was shot). What is left is the head-pose difference between t
  and t - D that the metric sees through the lips: the floor for any tool that moves only the
  mouth;
- **constant**: the mean reference mouth on every frame: a tool that ignores the audio;
- **audio → mouth** predictors trained on the first 40 % with the scorer's own timing: ridge
  regressions and k-nearest-neighbour look-ups on three speaker-normalised feature sets (8 log
  bands as the classic engine uses, 13 cepstra, 80 log-mel), each with ±2 frames of context.

A predictor is only useful where it beats `constant`; the gap between the best one and `perfect`
is what the audio does not tell from a few seconds of one speaker.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
SHIFT_S = 0.4
REFERENCE_SHARE = 0.4
CONTEXT = 2
RIDGE = (1.0, 10.0)
NEIGHBOURS = (5, 15)


def _ridge(x: np.ndarray, y: np.ndarray, strength: float) -> Callable[[np.ndarray], np.ndarray]:
    """Ridge regression on centred features, strength per feature dimension (as the classic engine)."""
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - x_mean, y - y_mean
    d = x.shape[1]
    weights = np.linalg.solve(xc.T @ xc + strength * d * np.eye(d), xc.T @ yc)
    return lambda z: (z - x_mean) @ weights + y_mean


def clip_ceiling(path: Path) -> dict[str, Any]:
    """The figures above for one clip: ratios (tool error ÷ do-nothing error) by predictor."""
    from mytalk.core.audio.features import cepstra, mel_per_frame
    from mytalk.core.engines.classic.geometry import fit_poses, frontalise, project
    from mytalk.core.engines.classic.speech_driver import band_features, stack_lagged
    from mytalk.core.face import track_video
    from mytalk.core.face.canonical import lip_points_normalised
    from mytalk.core.face.regions import LIPS
    from mytalk.core.media.audio import decode_audio, place_line
    from mytalk.core.media.probe import probe

    video = probe(path).video
    assert video is not None
    n, fps = video.frame_count, video.fps
    observations = track_video(path, 0, n)
    landmarks = np.stack([o.landmarks for o in observations]).astype(np.float64)
    found = np.array([o.found for o in observations])
    lips = np.array(sorted(LIPS))
    poses = fit_poses(landmarks, found)
    frontal = frontalise(landmarks, poses)[:, lips].reshape(n, -1)

    shift = int(round(SHIFT_S * float(fps)))
    frames = np.arange(int(REFERENCE_SHARE * n), n)
    frames = frames[frames - shift >= 0]
    reference = (np.arange(n) < int(REFERENCE_SHARE * n)) & found
    truth = lip_points_normalised(landmarks[frames - shift])
    do_nothing = np.linalg.norm(lip_points_normalised(landmarks[frames]) - truth, axis=-1).mean(axis=-1)
    head_of_t = SimpleNamespace(rotation=poses.rotation[frames], scale=poses.scale[frames], shift=poses.shift[frames])

    def ratio(predicted_frontal: np.ndarray) -> float:
        rebuilt = landmarks[frames].copy()
        rebuilt[:, lips, :2] = project(predicted_frontal.reshape(len(frames), -1, 3), head_of_t)
        error = np.linalg.norm(lip_points_normalised(rebuilt) - truth, axis=-1).mean(axis=-1)
        ok = np.isfinite(error) & np.isfinite(do_nothing)
        return round(float(error[ok].mean() / do_nothing[ok].mean()), 3)

    audio = place_line(decode_audio(path, 16_000, channels=1), num_frames=n, fps=fps, line_offset_s=Fraction(0))
    mel = mel_per_frame(audio, fps, n).astype(np.float64)
    features = {"bands8": band_features(audio, fps, n), "cepstra13": cepstra(mel), "mel80": mel}
    out: dict[str, Any] = {"frames": n, "reference_frames": int(reference.sum()), "shift_frames": shift,
                           "perfect": ratio(frontal[frames - shift]),
                           "constant": ratio(np.repeat(np.nanmean(frontal[reference], axis=0)[None], len(frames), 0))}
    predictors: dict[str, float] = {}
    for name, values in features.items():
        z = (values - values[reference].mean(axis=0)) / (values[reference].std(axis=0) + 1e-6)
        x = stack_lagged(z, np.zeros(n, np.int64), 0, CONTEXT)
        train_x, train_y = x[reference], frontal[reference]
        for strength in RIDGE:
            predictors[f"ridge {name} λ={strength:g}"] = ratio(_ridge(train_x, train_y, strength)(x)[frames - shift])
        distances = ((x[frames - shift][:, None, :] - train_x[None]) ** 2).sum(axis=-1)
        order = np.argsort(distances, axis=1)
        for k in NEIGHBOURS:
            predictors[f"{k}-NN {name}"] = ratio(train_y[order[:, :k]].mean(axis=1))
    best = min(predictors, key=lambda key: predictors[key])
    out.update(best_audio=predictors[best], best_audio_predictor=best, predictors=predictors)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", help="comma-separated clip names (default: every shared clip)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    folder = MEDIA / "video"
    if not folder.is_dir():
        print(f"shared media not found at {folder}; set MYTALK_SHARED_MEDIA", file=sys.stderr)
        return 2
    names = args.clips.split(",") if args.clips else sorted(p.name for p in folder.iterdir())
    results = {}
    print("| clip | frames (ref) | perfect lips, head of t | constant mouth | best audio → mouth | predictor |")
    print("|---|---|---|---|---|---|")
    for name in names:
        r = clip_ceiling(folder / name)
        results[name] = r
        print(f"| {name} | {r['frames']} ({r['reference_frames']}) | {r['perfect']:.3f} | {r['constant']:.3f} | "
              f"{r['best_audio']:.3f} | {r['best_audio_predictor']} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
