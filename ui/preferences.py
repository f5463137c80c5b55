"""The panel's remembered choices, in a QSettings INI file that tests can point elsewhere.

Not QSettings' default (the organisation's registry key or `~/.config/<org>/<app>.conf`): an explicit
file, `mytalk.core.userdirs.preferences_file()`, which lives under `MYTALK_HOME` when that is set, so
a test run never reads or writes the editor's real preferences. A host may pass its own QSettings.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from mytalk.core.userdirs import preferences_file


def panel_settings() -> QSettings:
    """The user's panel preferences (an INI file; made on first write)."""
    return QSettings(str(preferences_file()), QSettings.Format.IniFormat)


class QtPreferences:
    """A `mytalk.ui.panel_model.output.PreferenceStore` over QSettings; writes go to disk at once, so a
    crash of the host does not lose a folder the editor just picked."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.settings = settings if settings is not None else panel_settings()

    def get(self, key: str) -> str | None:
        value = self.settings.value(key)
        return None if value in (None, "") else str(value)

    def put(self, key: str, value: str) -> None:
        self.settings.setValue(key, value)
        self.settings.sync()
