"""The noisy copy of the shared media (`benchmarks/noisy_media.py`): the same pictures, the same sound in the
same place, with pink noise at the SNR asked for, loud and steady enough to be suppressed.

Its evaluation figures (a shift run over clean and noisy copies) mean what they say only if the copy moves
nothing but the noise: a picture re-encoded, or a sound shifted against it, would be measured as the
suppression's effect on the mouth."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from benchmarks.noisy_media import noisy_clip
from mytalk.core.audio.noise_suppression import measure_noise
from mytalk.core.media.audio import decode_audio
from tests.conftest import media_path

pytestmark = pytest.mark.media


def _pictures(path: Path) -> list[tuple[int | None, bytes]]:
    with av.open(str(path)) as container:
        return [(packet.pts, bytes(packet)) for packet in container.demux(video=0) if packet.size]


@pytest.mark.parametrize("name", ["hdtf_wda_katiehill_512.mp4", "voxceleb2_00104_man_tv_224.mp4"])
def test_the_copy_keeps_the_pictures_and_the_sound_and_adds_only_the_noise(tmp_path: Path, name: str) -> None:
    source = media_path("video", name)
    clean = noisy_clip(source, tmp_path / "clean.mov", float("inf"), np.random.default_rng(0))
    noisy = noisy_clip(source, tmp_path / "noisy.mov", 10.0, np.random.default_rng(0))
    assert _pictures(clean) == _pictures(source) == _pictures(noisy)
    original = decode_audio(source, 16000).samples[0]
    kept = decode_audio(clean, 16000).samples[0]
    heard = decode_audio(noisy, 16000).samples[0]
    assert original.size == kept.size == heard.size
    assert np.abs(kept - original).max() < 2e-4  # 16-bit PCM of the same samples, in the same place
    noise = heard - original
    snr_db = 10 * np.log10(np.mean(original.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
    assert 9.0 < snr_db < 11.0  # pink noise carries little above 8 kHz, so 16 kHz keeps nearly all of it
    assert not measure_noise(original, 16000).steady_noise
    assert measure_noise(heard, 16000).steady_noise  # what the product suppresses
