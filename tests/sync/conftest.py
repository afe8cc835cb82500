"""Configuration for the pure sync tests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis writes a .hypothesis/ cache into the working directory while pytest collects. With this
# project's custom norecursedirs, its plugin warns about that directory on the next run, and warnings
# are errors here, so the whole suite would stop collecting. Keep the cache in the temp directory
# (a fixture would be too late: the cache is written during collection).
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "ruta-hypothesis")
