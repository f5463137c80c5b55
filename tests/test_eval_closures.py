"""The closures protocol end to end on one real clip with the product (`--engine classic`).

Only that the figures exist and lie in range is checked, not their values: the engine's phone
handling is being changed (issue #11), and the figures are what measure it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from benchmarks.eval.runner import RunOptions, evaluate
from benchmarks.eval.settings import FAST
from conftest import media_path

CLIP = "voxceleb2_00104_man_tv_224.mp4"
"""The smallest shared clip (224 px): two 5 s renders and their tracking take about 15 s."""


@pytest.mark.media
@pytest.mark.slow
def test_closures_protocol_reports_shares_in_range_with_and_without_transcript(tmp_path: Path) -> None:
    clip = media_path("video", CLIP)
    media = clip.parent.parent
    options = RunOptions(engine="classic", clips=(clip,), out=tmp_path / "eval", settings=FAST, media_dir=media,
                         protocols=("closures",), cache_dir=tmp_path / "cache")
    report = evaluate(options)
    result = report["clips"][CLIP]["results"]["closures"]
    assert not result.get("skipped") and not result.get("error"), result.get("error") or result.get("skipped")
    figures, detail = result["figures"], result["detail"]
    assert detail["frames"]["p/b/m"] > 0, "the line has no p/b/m frame: the closure figure would be empty"
    for mode in ("transcript", "no_transcript"):
        assert 0.0 <= figures[f"closure_share_{mode}"] <= 1.0, mode
        if detail["frames"]["f/v"]:
            assert 0.0 <= figures[f"fv_share_{mode}"] <= 1.0, mode
        ratio = figures[f"width_ratio_{mode}"]
        assert ratio is None or 0.3 < ratio < 3.0, mode
        assert isinstance(figures[f"lag_vs_real_{mode}"], int), mode
        sheet = cv2.imread(result["sheets"][mode])
        assert sheet is not None and sheet.shape[0] > 100, mode
    # The transcript reached the tool, and only on its run.
    commands = [detail[mode]["command"] for mode in ("transcript", "no_transcript")]
    assert "--transcript" in commands[0] and "--transcript" not in commands[1]
    assert commands[0][commands[0].index("--transcript") + 1] == result["text"]
    assert 0.02 <= detail["shut_threshold_iod"] < 0.1
    assert "closures" in report["summary"]
