"""`python -m mytalk.core.runtime`: the runtime without the CLI, for host shims."""

import sys

from mytalk.core.runtime.server import main

sys.exit(main())
