"""What starting eadesk loads: matplotlib only when a chart is drawn. Its first import builds
a font cache and says so in the log, which made a one-line start-up error three lines, and it
adds to every start."""

from __future__ import annotations

import subprocess
import sys


def test_starting_the_app_does_not_load_matplotlib() -> None:
    probe = "import sys, bot.app, bot.cli; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    assert result.stdout.strip() == "False"
