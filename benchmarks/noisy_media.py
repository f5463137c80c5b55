"""A copy of the shared media whose clips' own sound has steady noise under it, for the evaluation suite.

    python -m benchmarks.noisy_media --out /tmp/noisy-media [--snr 10] [--seed 0]
    python -m benchmarks.eval --engine classic --protocols shift --clips all --media /tmp/noisy-media --out ...

Why: `core/audio/noise_suppression.py` hears a line or an actor's footage with its loud, steady noise
suppressed before the phones are recognised. `benchmarks/bench_noisy_lines.py` measures what that does to
the phones; this measures what it does to the mouth. The suite's `shift` protocol learns the actor from
the clip's own footage and drives the range with the clip's own sound taken 0.4 s earlier, so with this
media both the footage and the line carry the noise, and its truth (the source mouth) does not.

Each clip of `MEDIA/video` is written to `OUT/video` with its picture packets copied untouched and its
sound (the stream the product takes for it, decoded as the product decodes it: sample 0 at the first decoded sample,
the stream starting where the original's does) mixed with pink noise at `--snr` dB under the sound's mean
power, stored as 16-bit PCM in a `.mov` (no encoder delay to move the sound against the picture).
`OUT/audio` links to `MEDIA/audio`, which the suite's dub protocol reads.
"""

from __future__ import annotations

import argparse
import os
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from benchmarks.bench_noisy_lines import mixed, pink_noise
from mytalk.core.media.audio import decode_audio, probe_audio_rate
from mytalk.core.media.sound_stream import clip_sound_stream

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))


def noisy_clip(source: Path, target: Path, snr_db: float, rng: np.random.Generator) -> Path:
    """`source` with its picture copied and its sound mixed with pink noise at `snr_db`, as PCM in a `.mov`."""
    index = clip_sound_stream(source).index
    rate = probe_audio_rate(source, index)
    # As the product decodes it (packed or planar, more than two channels mixed down to stereo), at its own rate.
    samples = decode_audio(source, rate, channels=None, stream_index=index).samples
    with av.open(str(source)) as container:
        sound_in = container.streams[index]
        start = sound_in.start_time or 0
        start_s = float(start * sound_in.time_base) if sound_in.time_base else 0.0
    noise = pink_noise(samples.shape[1], rng)
    noisy = np.stack([mixed(channel, noise, snr_db) for channel in samples])
    pcm = np.clip(np.round(noisy * 32767.0), -32768, 32767).astype(np.int16)
    layout = "mono" if pcm.shape[0] == 1 else "stereo"
    with av.open(str(source)) as container, av.open(str(target), "w") as out:
        picture_in = container.streams.video[0]
        picture = out.add_stream_from_template(picture_in)
        sound = out.add_stream("pcm_s16le", rate=rate, layout=layout)
        sound.time_base = Fraction(1, rate)
        for packet in container.demux(picture_in):
            if packet.dts is None or packet.size == 0:
                continue
            packet.stream = picture
            out.mux(packet)
        first = round(start_s * rate)
        step = 1024
        for at in range(0, pcm.shape[1], step):
            chunk = np.ascontiguousarray(pcm[:, at : at + step].T.reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=layout)
            frame.sample_rate = rate
            frame.pts, frame.time_base = first + at, Fraction(1, rate)
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the media folder to write (video/ and audio/)")
    parser.add_argument("--media", type=Path, default=MEDIA, help="the shared media folder to copy")
    parser.add_argument("--snr", type=float, default=10.0, help="speech-to-noise ratio in dB (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="the noise's seed (default 0)")
    args = parser.parse_args(argv)
    videos = sorted((args.media / "video").glob("*.*"))
    if not videos:
        print(f"skip: no clips in {args.media / 'video'}", file=sys.stderr)
        return 0
    (args.out / "video").mkdir(parents=True, exist_ok=True)
    audio = args.out / "audio"
    if not audio.exists():
        audio.symlink_to((args.media / "audio").resolve(), target_is_directory=True)
    rng = np.random.default_rng(args.seed)
    for source in videos:
        target = args.out / "video" / f"{source.stem}.mov"
        noisy_clip(source, target, args.snr, rng)
        print(f"{source.name} -> {target} (pink noise at {args.snr:g} dB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
