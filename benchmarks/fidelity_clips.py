"""Test clips for the fidelity failures of issue #12, made from the shared clips, and their contact sheets.

Two clips, written losslessly (FFV1, 4:2:0) so every pixel of the output can be compared with them:

- **chin out** (`make_chin_out_clip`): a 512 px interview clip shifted down over the range so the chin,
  then the lower lip's underside, leave the bottom of the frame and come back. An engine must edit
  only what is inside the frame and never smear the frame's last row over the lips.
- **impostors** (`make_impostor_clip`): the subject, then after a cut another person framed alike,
  then a spinning drawn face (a face-like graphic), then the subject again. Only the subject's frames
  may change.

Run ``python -m benchmarks.fidelity_clips --out DIR`` to write both clips, sync them with the classic
engine, and write contact sheets (source | output) of the frames that matter.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.eval.contact_sheet import Panel, SheetRow, write_sheet
from benchmarks.eval.mediaio import iter_frames, to_rgb

SUBJECT = "hdtf_wda_katiehill_512.mp4"
OTHER_PERSON = "hdtf_wda_bobmenendez_512.mp4"
FPS = 25

CHIN_OUT_FRAMES = 100
CHIN_OUT_MAX_SHIFT = 110
"""Pixels the picture moves down at most: Katie Hill's chin sits at y ≈ 465 of 512, her lower lip at ≈ 400."""

IMPOSTOR_SEGMENTS = (("subject", 40), ("other person", 24), ("graphic", 16), ("subject again", 40))


def chin_shift(t: int) -> int:
    """Downward shift (px) of frame t of the chin-out clip: still, down, held, back up."""
    ramp = np.interp(t, [0, 20, 50, 75, 95, CHIN_OUT_FRAMES], [0, 0, 1, 1, 0, 0])
    return int(round(CHIN_OUT_MAX_SHIFT * float(ramp)))


def _write_ffv1(path: Path, pictures: list[np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = pictures[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for picture in pictures:
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _frames(media: Path, name: str, start: int, stop: int) -> list[np.ndarray]:
    return [to_rgb(frame) for _, frame in iter_frames(media / "video" / name, start, stop)]


def make_chin_out_clip(media: Path, path: Path) -> Path:
    """`SUBJECT`'s first `CHIN_OUT_FRAMES` frames, each shifted down by `chin_shift` (top rows replicated)."""
    shifted = []
    for t, picture in enumerate(_frames(media, SUBJECT, 0, CHIN_OUT_FRAMES)):
        dy = chin_shift(t)
        if dy:
            picture = np.concatenate([np.repeat(picture[:1], dy, axis=0), picture[:-dy]], axis=0)
        shifted.append(np.ascontiguousarray(picture))
    return _write_ffv1(path, shifted)


def drawn_face(t: int, size: int = 512) -> np.ndarray:
    """A flat-coloured cartoon face turning 12° per frame on a blue card: face-like to a detector."""
    card = np.full((size, size, 3), (40, 90, 160), np.uint8)
    c = (size // 2, size // 2)
    face = np.zeros_like(card)
    cv2.ellipse(face, c, (120, 160), 0, 0, 360, (225, 190, 160), -1)
    for dx in (-50, 50):
        cv2.ellipse(face, (c[0] + dx, c[1] - 40), (24, 12), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(face, (c[0] + dx, c[1] - 40), 9, (40, 30, 20), -1)
        cv2.line(face, (c[0] + dx - 30, c[1] - 75), (c[0] + dx + 30, c[1] - 80), (60, 40, 30), 6)
    cv2.line(face, (c[0], c[1] - 20), (c[0] - 10, c[1] + 30), (150, 100, 80), 5)
    cv2.ellipse(face, (c[0], c[1] + 75), (50, 16), 0, 0, 360, (170, 60, 70), -1)
    face = cv2.warpAffine(face, cv2.getRotationMatrix2D(c, 12.0 * t, 1.0), (size, size))
    drawn = face.any(axis=2)
    card[drawn] = face[drawn]
    return card


def make_impostor_clip(media: Path, path: Path) -> tuple[Path, list[tuple[str, int, int]]]:
    """The clip and its segments as (name, first frame, end frame exclusive)."""
    lengths = dict(IMPOSTOR_SEGMENTS)
    parts = [
        _frames(media, SUBJECT, 0, lengths["subject"]),
        _frames(media, OTHER_PERSON, 0, lengths["other person"]),
        [drawn_face(t) for t in range(lengths["graphic"])],
        _frames(media, SUBJECT, lengths["subject"], lengths["subject"] + lengths["subject again"]),
    ]
    segments, start = [], 0
    for (name, _), part in zip(IMPOSTOR_SEGMENTS, parts, strict=True):
        segments.append((name, start, start + len(part)))
        start += len(part)
    return _write_ffv1(path, [p for part in parts for p in part]), segments


def _sync(clip: Path, audio: Path, out: Path) -> dict:
    report = out.with_suffix(".json")
    cmd = [str(Path(sys.executable).with_name("mytalk")), "sync", str(clip), "--audio", str(audio), "-o", str(out),
           "--codec", "ffv1", "--report", str(report), "--quiet"]
    subprocess.run(cmd, check=True)
    return json.loads(report.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    audio = args.media / "audio" / "jfk_inaugural_en_16k.wav"

    chin = make_chin_out_clip(args.media, args.out / "chin_out.mkv")
    chin_out = args.out / "chin_out_synced.mkv"
    report = _sync(chin, audio, chin_out)
    rows = [SheetRow(f"t={t} shift {chin_shift(t)}", (96, 256, 416, 512), (Panel("source", chin, t), Panel("output", chin_out, t)))
            for t in (15, 40, 50, 60, 70, 80)]
    print(write_sheet(args.out / "chin_out.png", "chin leaves the frame: source | output", rows))
    print("chin out:", report["tracking"]["frames_with_face"], "of", report["tracking"]["frames_tracked"], "frames with a face")

    clip, segments = make_impostor_clip(args.media, args.out / "impostors.mkv")
    synced = args.out / "impostors_synced.mkv"
    report = _sync(clip, audio, synced)
    rows = [SheetRow(f"{name} t={t}", (96, 160, 416, 480), (Panel("source", clip, t), Panel("output", synced, t)))
            for name, a, b in segments for t in (a + 2, (a + b) // 2)]
    print(write_sheet(args.out / "impostors.png", "subject, another person, a drawn face: source | output", rows))
    print("impostors, rejected:", json.dumps(report["tracking"]["rejected_detections"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
