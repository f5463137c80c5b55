"""MyTalk launcher for DaVinci Resolve: Workspace ▸ Scripts ▸ MyTalk.

Installed into Resolve's Scripts/Utility folder by
`python -c "from mytalk.plugin.hosts.resolve import install_launcher; install_launcher()"`,
which fills in the Python interpreter that has MyTalk installed.

Resolve runs this file with its own embedded Python, which has neither Qt nor MyTalk. So the
launcher only starts MyTalk's panel as a separate process with MyTalk's interpreter; the panel
then reads the current shot through Resolve's scripting API (Preferences ▸ System ▸ General ▸
External scripting using: Local) and puts the result back on a new track. A crash in the panel
or its runtime can never take Resolve down with it.
"""

import os
import subprocess
import sys

MYTALK_PYTHON = os.environ.get("MYTALK_PYTHON") or "@MYTALK_PYTHON@"


def launch():
    if MYTALK_PYTHON.startswith("@") or not os.path.exists(MYTALK_PYTHON):
        print("MyTalk: the MyTalk Python was not found (" + MYTALK_PYTHON + "); reinstall the launcher or set MYTALK_PYTHON")
        return None
    options = {}
    if sys.platform.startswith("win"):
        options["creationflags"] = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    else:
        options["start_new_session"] = True
    return subprocess.Popen([MYTALK_PYTHON, "-m", "mytalk.plugin.hosts.resolve"], stdin=subprocess.DEVNULL, **options)


# Resolve executes the file as a script, under a name that is not always "__main__"; importing it
# as a module (tests, packaging checks) must not start anything.
if __name__ not in ("mytalk.resources.resolve_launcher", "resolve_launcher"):
    launch()
