"""Tây Ninh IOC (Trung tâm giám sát, điều hành thông minh).

``uv run app.py`` runs the whole demo: embedded Redis, simulated feeds, connectors, aggregator
and the web app on http://127.0.0.1:8050/. ``uv run app.py --config ioc.toml`` runs what the
file configures. ``uv run app.py --help`` lists the single components.
"""

from __future__ import annotations

import sys

from ioc.cli import main

if __name__ == "__main__":
    sys.exit(main())
