"""MLT's own renderer as the judge of a project version: render with `melt`, decode with PyAV, compare.

`melt` renders a project exactly as Kdenlive and Shotcut play it. The render is lossless (FFV1 and
16-bit PCM) at the profile's size and rate, so what differs from the media is only MLT's colour
conversion (the profile's BT.709 matrix against the clips' own tags) and its 8-bit rounding.
Kdenlive's track compositing (`qtblend`) lives in MLT's Qt module, which needs an X display: without
one, `melt` runs under `xvfb-run`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np

AUDIO_RATE = 16000
"""Rate (Hz, mono) at which rendered and reference sound are compared: the shared clips' own rate."""


def melt_command() -> list[str] | None:
    """`melt`, under `xvfb-run` when there is no display; None when it cannot run here."""
    melt = shutil.which("melt")
    if melt is None:
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return [melt]
    xvfb = shutil.which("xvfb-run")
    return [xvfb, "-a", melt] if xvfb else None


def render(project: Path, out: Path) -> Path:
    """Render a project with melt to FFV1 + PCM in Matroska; fails with melt's own words."""
    command = melt_command()
    assert command is not None
    loader = f"xml:{project}"  # `.kdenlive` is MLT XML, but melt picks the loader by suffix
    result = subprocess.run([*command, loader, "-silent", "-consumer", f"avformat:{out}", "vcodec=ffv1",
                             "pix_fmt=yuv420p", "acodec=pcm_s16le", "frequency=48000", "channels=2",
                             "real_time=-1"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0 and out.is_file(), result.stderr[-2000:]
    assert "failed to load" not in result.stderr or "frei0r" in result.stderr, result.stderr[-2000:]
    return out


def frames_rgb(path: Path, start: int = 0, stop: int | None = None) -> list[np.ndarray]:
    """Frames [start, stop) of a file as RGB arrays (uint8, H x W x 3), each file through its own tags."""
    out: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if stop is not None and index >= stop:
                break
            if index >= start:
                out.append(frame.to_ndarray(format="rgb24"))
    return out


def sound(path: Path, stream_index: int | None = None) -> np.ndarray:
    """The file's first sound stream (or stream `stream_index`, FFmpeg's index) as mono float samples at
    `AUDIO_RATE` (-1..1)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0] if stream_index is None else container.streams[stream_index]
        for frame in container.decode(stream):
            for resampled in resampler.resample(frame):
                chunks.append(resampled.to_ndarray().reshape(-1))
        for resampled in resampler.resample(None):
            chunks.append(resampled.to_ndarray().reshape(-1))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two pictures, in 8-bit levels (0 = identical)."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 160) -> float:
    """Best normalised correlation of two sounds over lags of up to `max_lag` samples (10 ms at 16 kHz):
    1 is the same sound, ~0 unrelated sounds. The lag allows the resamplers' different delays."""
    n = min(len(a), len(b)) - 2 * max_lag
    assert n > 0
    best = -1.0
    core = b[max_lag:max_lag + n].astype(np.float64)
    core = core - core.mean()
    for lag in range(0, 2 * max_lag + 1):
        piece = a[lag:lag + n].astype(np.float64)
        piece = piece - piece.mean()
        denominator = float(np.sqrt((piece ** 2).sum() * (core ** 2).sum()))
        if denominator > 0:
            best = max(best, float((piece * core).sum()) / denominator)
    return best


def write_side_by_side(left: np.ndarray, right: np.ndarray, labels: tuple[str, str], path: Path) -> Path:
    """Two RGB frames side by side with a caption under each, as a PNG (for the docs)."""
    import cv2

    height = left.shape[0]
    band = 28
    canvas = np.full((height + band, left.shape[1] + right.shape[1] + 8, 3), 255, np.uint8)
    canvas[:height, :left.shape[1]] = left
    canvas[:height, left.shape[1] + 8:] = right
    for x, label in ((6, labels[0]), (left.shape[1] + 14, labels[1])):
        cv2.putText(canvas, label, (x, height + 19), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    assert cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    return path
