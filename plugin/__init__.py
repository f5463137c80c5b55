"""Host integration for MyTalk: the plugin manifest, its loader, and the command-line entry point.

`mytalk.plugin.manifest` and `mytalk.plugin.loader` import only the standard library, so hosts can
list and validate the plugin without Qt, torch or a host SDK. Nothing is imported here on purpose.
"""
