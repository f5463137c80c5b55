"""MyTalk core runtime: media, face, audio, engines, compositing and jobs.

This package never imports Qt or any host SDK; the panel and the hosts wrap it.
Importing it has no side effects: no model loads, no path edits.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mytalk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
