"""FEEDS.md §1 computed the slow, obvious way, record by record, to check the Polars KPIs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _t(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def window_start(window: str, as_of: datetime) -> datetime:
    local = as_of.astimezone(TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "today": midnight,
        "7d": as_of - timedelta(days=7),
        "30d": as_of - timedelta(days=30),
        "mtd": midnight.replace(day=1),
        "ytd": midnight.replace(month=1, day=1),
    }[window]


def latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Latest version per ma_ho_so by cap_nhat_luc; later arrival wins ties."""
    best: dict[str, dict[str, Any]] = {}
    for rec in records:
        old = best.get(rec["ma_ho_so"])
        if old is None or _t(rec["cap_nhat_luc"]) >= _t(old["cap_nhat_luc"]):
            best[rec["ma_ho_so"]] = rec
    return list(best.values())


def counts_for(
    records: list[dict[str, Any]], unit: str, parents: dict[str, str | None]
) -> list[dict[str, Any]]:
    def ancestors(code: str) -> set[str]:
        out: set[str] = set()
        node: str | None = code
        while node is not None:
            out.add(node)
            node = parents[node]
        return out

    return [rec for rec in records if unit in ancestors(rec["ma_dvhc"])]


def public_services(records: list[dict[str, Any]], as_of: datetime, window: str) -> dict[str, Any]:
    start = window_start(window, as_of)

    def inside(value: str | None) -> bool:
        moment = _t(value)
        return moment is not None and start <= moment <= as_of

    received = [r for r in records if inside(r["ngay_tiep_nhan"])]
    resolved = [r for r in records if r["trang_thai"] == "da_tra_ket_qua" and inside(r["ngay_tra_ket_qua"])]
    on_time = [r for r in resolved if _t(r["ngay_tra_ket_qua"]) <= _t(r["han_xu_ly"])]
    overdue = [
        r for r in records if r["trang_thai"] in ("tiep_nhan", "dang_xu_ly") and _t(r["han_xu_ly"]) < as_of
    ]
    fee = [r for r in received if r["co_nghia_vu_tai_chinh"]]

    def rate(num: int, den: int) -> dict[str, Any]:
        return {"value": num / den if den else None, "numerator": num, "denominator": den}

    seconds = [(_t(r["ngay_tra_ket_qua"]) - _t(r["ngay_tiep_nhan"])).total_seconds() for r in resolved]
    return {
        "received": {"value": len(received)},
        "resolved": {"value": len(resolved)},
        "on_time_rate": rate(len(on_time), len(resolved)),
        "overdue_open": {"value": len(overdue)},
        "online_rate": rate(sum(r["kenh_nop"] == "truc_tuyen" for r in received), len(received)),
        "online_payment_rate": rate(sum(bool(r["thanh_toan_truc_tuyen"]) for r in fee), len(fee)),
        "digitisation_rate": rate(sum(bool(r["so_hoa"]) for r in received), len(received)),
        "avg_processing_days": {"value": round(sum(seconds) / len(seconds) / 86400, 2) if seconds else None},
    }


def same(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """KPI documents equal: counts exactly, values to float precision."""
    import pytest

    return got.keys() == expected.keys() and all(got[k] == pytest.approx(expected[k]) for k in expected)


def citizen_feedback(records: list[dict[str, Any]], as_of: datetime, window: str) -> dict[str, Any]:
    """FEEDS.md §2 (all but hotspots) over reports in the aggregator's field names."""
    start = window_start(window, as_of)

    def inside(moment: datetime | None) -> bool:
        return moment is not None and start <= moment <= as_of

    closed = [r for r in records if r["status"] == "da_xu_ly" and inside(r["closed_at"])]
    on_time = [r for r in closed if r["deadline_at"] is not None and r["closed_at"] <= r["deadline_at"]]
    hours = sorted(h for r in closed if (h := r["handling_hours"]) is not None and h == h)  # not NaN
    ratings = [r["rating"] for r in closed if r["rating"] is not None]
    median = None
    if hours:
        low, high = hours[(len(hours) - 1) // 2], hours[len(hours) // 2]
        median = round(low + (high - low) / 2, 2)
    return {
        "new": {"value": sum(inside(r["created_at"]) for r in records)},
        "open": {
            "value": sum(r["status"] in ("moi", "da_tiep_nhan", "dang_xu_ly", "cho_bo_sung") for r in records)
        },
        "overdue": {
            "value": sum(
                r["status"] in ("da_tiep_nhan", "dang_xu_ly")
                and r["deadline_at"] is not None
                and r["deadline_at"] < as_of
                for r in records
            )
        },
        "on_time_rate": {
            "value": len(on_time) / len(closed) if closed else None,
            "numerator": len(on_time),
            "denominator": len(closed),
        },
        "median_handling_hours": {"value": median},
        "satisfaction": {"value": round(sum(ratings) / len(ratings), 2) if ratings else None},
    }


def vaccination(records: list[dict[str, Any]], as_of: datetime, window: str, vaccine: str) -> dict[str, Any]:
    """FEEDS.md §4 for one vaccine (``*``: doses of all) over dose records in the aggregator's
    field names: doses in the window by dose number, and people over all time."""
    start = window_start(window, as_of)
    mine = records if vaccine == "*" else [r for r in records if r["vaccine"] == vaccine]
    given = [r for r in mine if r["given_at"] is not None and start <= r["given_at"] <= as_of]
    numbers = sorted({r["dose_number"] for r in given})
    people = {r["person"] for r in mine}
    first = {r["person"] for r in mine if r["dose_number"] == 1}
    third = {r["person"] for r in mine if r["dose_number"] == 3}
    return {
        "doses": len(given),
        "doses_by_dose_number": [
            {"dose": n, "doses": sum(r["dose_number"] == n for r in given)} for n in numbers
        ],
        "people_first_dose": len(people) if vaccine != "*" else None,
        "dropout": (len(first) - len(third), len(first)) if vaccine != "*" else None,
    }
