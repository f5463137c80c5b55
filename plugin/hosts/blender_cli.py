"""`mytalk blender install|panel`: the command-line side of the Blender extension.

Kept out of `mytalk.plugin.cli` so that the CLI's parser stays a table of commands; nothing here is
imported until the `blender` command runs (the parser itself needs only argparse).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_blender_commands(parser: argparse.ArgumentParser) -> None:
    """`install` and `panel` under `mytalk blender`."""
    commands = parser.add_subparsers(dest="blender_command", required=True, parser_class=type(parser))
    install = commands.add_parser("install", help="install MyTalk's extension into Blender 4.2+ (video sequencer)")
    install.add_argument("--target", type=Path, metavar="DIR",
                         help="a Blender extensions repository folder (default: the user_default repository of the "
                              "newest Blender in your Blender config folder)")
    install.add_argument("--print", dest="print_only", action="store_true",
                         help="do not install: write the extension as a zip and print where it is and how to install it")
    panel = commands.add_parser("panel", help="open MyTalk's panel on a clip's range (what the add-on's Preview runs)")
    panel.add_argument("video", type=Path)
    panel.add_argument("--audio", type=Path, required=True, help="the replacement line")
    panel.add_argument("--in", dest="in_point", type=int, required=True, help="first frame, from the clip's first frame")
    panel.add_argument("--out", dest="out_point", type=int, required=True, help="frame after the last (exclusive)")
    panel.add_argument("--audio-in", help="time in the line that lines up with the in point (frames, or 1.5s)")
    panel.add_argument("--render-folder", type=Path, help="where the panel's commits of this clip go")
    panel.add_argument("--audio-channels", metavar="PICK", help="the line's channels picked, as sync takes them")
    panel.add_argument("--guide-channels", metavar="PICK", help="the clip's own channels picked, as sync takes them")


def is_gui(args: argparse.Namespace) -> bool:
    """`blender panel` runs a Qt event loop, like `mytalk panel`."""
    return getattr(args, "blender_command", None) == "panel"


def run_blender(args: argparse.Namespace) -> int:
    if args.blender_command == "install":
        from mytalk.plugin.hosts.blender_install import install_command

        return install_command(args.target, args.print_only)
    from mytalk.plugin.hosts.blender_panel import run_panel

    return run_panel(args.video, args.audio, args.in_point, args.out_point, args.audio_in, args.render_folder,
                     line_channels=args.audio_channels, guide_channels=args.guide_channels)


__all__ = ["add_blender_commands", "is_gui", "run_blender"]
