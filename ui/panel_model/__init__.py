"""The panel's model, in plain Python: no Qt, so it is tested without a display.

Following napari's `_qt` split, `mytalk.ui.panel` is a thin Qt adapter over this package: it lays
out widgets, forwards signals and paints, and asks `PanelModel` what a key, a click or a runtime
event means. Importing this package never imports PySide6 (a test checks it).
"""

from __future__ import annotations

from mytalk.ui.panel_model.events import JobView, Reaction
from mytalk.ui.panel_model.face import FacePick, face_text
from mytalk.ui.panel_model.model import PanelModel
from mytalk.ui.panel_model.preview import BFrame, Poster, PreviewRange, PreviewState
from mytalk.ui.panel_model.request import RequestInputs, build_request, range_label
from mytalk.ui.panel_model.slip import NUDGE_S, Slip, audio_in_text

__all__ = [
    "NUDGE_S",
    "BFrame",
    "FacePick",
    "JobView",
    "PanelModel",
    "Poster",
    "PreviewRange",
    "PreviewState",
    "Reaction",
    "RequestInputs",
    "Slip",
    "audio_in_text",
    "build_request",
    "face_text",
    "range_label",
]
