"""Static resources shipped with MyTalk (icons, and the packaged copy of `manifest.json`).

Data only: read files with `importlib.resources.files("mytalk.resources")`, never by a path
relative to the working directory.
"""
