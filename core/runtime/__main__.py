"""`python -m mytalk.core.runtime`: the runtime without the CLI, for host shims."""

import sys

from mytalk.core.malloc import limit_malloc_arenas
from mytalk.core.runtime.server import main

limit_malloc_arenas()
sys.exit(main())
