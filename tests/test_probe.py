"""The hostile probe (``uv run python -m tests.probe``) against the app in production mode:
every probe passes, and the command stays runnable as the README says."""

from __future__ import annotations

import subprocess
import sys

from ioc.config import PROJECT_ROOT


def test_every_hostile_probe_is_refused_by_the_production_app() -> None:
    """Each probe prints one line; the command exits 0 only when every probe held."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.probe"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(("ok ", "FAIL"))]
    failed = [line for line in lines if line.startswith("FAIL")]
    assert done.returncode == 0 and not failed, "\n".join(failed) or done.stdout[-3000:] + done.stderr[-3000:]
    assert len(lines) >= 15, f"only {len(lines)} probes ran:\n{done.stdout}"
