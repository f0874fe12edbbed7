"""Canonical records as a connector hands them on, for tests and the benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from ioc.schemas import PUBLIC_SERVICES_SCHEMA
from ioc.units import UnitTable


def dossiers(
    units: UnitTable, count: int, *, start: int = 0, seed: int = 1, unit: str | None = None
) -> pl.DataFrame:
    """Canonical public-services records, as a connector hands them on (times in the last 20 days)."""
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    communes = units.level_codes("commune")
    received = [now.timestamp() - float(x) for x in rng.uniform(3, 20 * 86400, count)]
    frame = pl.DataFrame(
        {
            "id": [f"B{start + i:09d}" for i in range(count)],
            "procedure_code": "1.004227",
            "sector": "Đất đai",
            "agency_code": "BPMC",
            "unit_code": [unit] * count if unit else list(rng.choice(communes, count)),
            "channel": list(rng.choice(["truc_tuyen", "truc_tiep", "buu_chinh"], count)),
            "received_at": [int(t) for t in received],
            "deadline_at": [int(t) + 5 * 86400 for t in received],
            "returned_at": [None] * count,
            "status": list(rng.choice(["tiep_nhan", "dang_xu_ly", "cho_bo_sung"], count)),
            "fee_due": list(rng.random(count) < 0.4),
            "paid_online": [None] * count,
            "digitised": list(rng.random(count) < 0.8),
            "updated_at": [int(now.timestamp())] * count,
        }
    )
    seconds = [c for c in ("received_at", "deadline_at", "updated_at")]
    return frame.with_columns(
        *[
            pl.from_epoch(pl.col(c), time_unit="s").dt.replace_time_zone("UTC").dt.cast_time_unit("us")
            for c in seconds
        ],
        pl.col("returned_at").cast(pl.Datetime("us", "UTC")),
        pl.col("paid_online").cast(pl.Boolean),
    ).select(list(PUBLIC_SERVICES_SCHEMA))
