"""The local core runtime: a child process that speaks JSON lines over stdin and stdout.

`protocol` defines the messages (pure, no I/O); `server` runs the process, started as
`python -m mytalk.core.runtime` (the panel) or `mytalk runtime`.
Importing this package starts nothing.
"""
