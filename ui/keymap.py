"""The panel's editing keys, as a table (no Qt): which command a key with its modifiers gives.

The habits are Avid's, Premiere's and Resolve's (`KEY_HELP` is the list as editors read it, and
what the Help shows). Keys are named as Qt names them without the `Key_` prefix ("I", "Space", "Comma"), so
the Qt panel looks a key up by `Qt.Key(...).name` and nothing here depends on Qt. With Ctrl or
Cmd held a key is never ours: those are the host application's shortcuts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A panel verb, with its amount where it has one (frames, seconds or milliseconds, as named)."""

    name: str
    amount: int = 0


@dataclass(frozen=True)
class Binding:
    """`key` gives `command`; `alt` / `shift` None means either state of that modifier."""

    key: str
    command: Command
    alt: bool | None = None
    shift: bool | None = None

    def matches(self, key: str, alt: bool, shift: bool) -> bool:
        return key == self.key and self.alt in (None, alt) and self.shift in (None, shift)


HELD_K = Command("none")
"""K auto-repeats while held for K+J / K+L: the repeats are swallowed, not stops."""

BINDINGS: tuple[Binding, ...] = (
    Binding("I", Command("clear_in"), alt=True),
    Binding("I", Command("set_in")),
    Binding("O", Command("clear_out"), alt=True),
    Binding("O", Command("set_out")),
    Binding("X", Command("clear_marks"), alt=True),
    Binding("Space", Command("toggle_play")),
    Binding("J", Command("shuttle_reverse")),
    Binding("K", Command("press_k")),
    Binding("L", Command("shuttle_forward")),
    Binding("Left", Command("step_seconds", -1), shift=True),
    Binding("Left", Command("step", -1)),
    Binding("Right", Command("step_seconds", 1), shift=True),
    Binding("Right", Command("step", 1)),
    Binding("Up", Command("go_to_in")),
    Binding("Down", Command("go_to_out")),
    Binding("Home", Command("go_to_start")),
    Binding("End", Command("go_to_end")),
    # Shift+, arrives as "<" on most layouts and as Shift+Comma on some: both slip 10 ms.
    Binding("Comma", Command("nudge_ms", -10), shift=True),
    Binding("Comma", Command("nudge_frames", -1)),
    Binding("Period", Command("nudge_ms", 10), shift=True),
    Binding("Period", Command("nudge_frames", 1)),
    Binding("Less", Command("nudge_ms", -10)),
    Binding("Greater", Command("nudge_ms", 10)),
    Binding("Backslash", Command("toggle_ab")),
    Binding("Bar", Command("wipe")),
    Binding("P", Command("preview")),
)


KEY_HELP: tuple[tuple[str, str], ...] = (
    ("I / O", "mark in / out at the playhead"),
    ("Alt+I, Alt+O, Alt+X", "clear in, out, both"),
    ("Space", "play / stop"),
    ("J / K / L", "shuttle back, stop, forward (repeat: 2×, 4×, 8×)"),
    ("K+J, K+L", "one frame back / forward"),
    ("← / →", "one frame back / forward"),
    ("Shift+← / →", "one second back / forward"),
    ("↑ / ↓", "go to in / out"),
    ("Home / End", "first / last frame"),
    (", / .", "slip the line a frame earlier / later"),
    ("Shift+, / Shift+.", "slip the line 10 ms earlier / later"),
    ("\\", "toggle A/B"),
    ("|", "wipe between A and B"),
    ("P", "preview the marked range"),
    ("Esc", "leave a text field: the keys above work again"),
)
"""The keys as the Help shows them, one (keys, action) row each, in the order editors look them up.
They work wherever the focus is in the panel, except inside text and number fields."""


def command_for(key: str, *, alt: bool = False, shift: bool = False, control: bool = False,
                auto_repeat: bool = False) -> Command | None:
    """The command of a key press, or None when the key is not the panel's (`control`: Ctrl or Cmd)."""
    if control:
        return None
    if key == "K" and auto_repeat:
        return HELD_K
    return next((b.command for b in BINDINGS if b.matches(key, alt, shift)), None)
