"""User settings from one schema: `manifest.json`'s `settings`, parsed into typed models.

The CLI's options, the panel's widgets and the runtime's request checks are all built from
`shipped_settings()`; engines declare which of these settings they honour and check them with
`check_attributes`. The text forms of the other inputs (face points, `FILE[:IN-OUT]`) have their
one parser in `grammar`. Nothing here imports Qt, a host SDK or the plugin layer.
"""

from mytalk.core.settings.grammar import GUIDE_MODES, VIDEO_SUFFIXES, parse_face_point, split_media_spec
from mytalk.core.settings.problems import Problem, problem_lines
from mytalk.core.settings.schema import (
    SETTING_TYPES,
    Setting,
    SettingsTable,
    check_attributes,
    check_values,
    defaults,
    value_problem,
    with_defaults,
)
from mytalk.core.settings.source import (
    MANIFEST_FILENAME,
    default_manifest_path,
    load_settings,
    parse_settings,
    read_manifest_json,
    shipped_settings,
)

__all__ = [
    "GUIDE_MODES",
    "MANIFEST_FILENAME",
    "SETTING_TYPES",
    "VIDEO_SUFFIXES",
    "Problem",
    "Setting",
    "SettingsTable",
    "check_attributes",
    "check_values",
    "default_manifest_path",
    "defaults",
    "load_settings",
    "parse_face_point",
    "parse_settings",
    "problem_lines",
    "read_manifest_json",
    "shipped_settings",
    "split_media_spec",
    "value_problem",
    "with_defaults",
]

