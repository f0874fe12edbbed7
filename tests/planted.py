"""Personal values a hostile source plants, and the search for them in whatever was stored.

Shared by the property test of personal data (tests/test_personal_data.py) and the hostile probe
(tests/probe.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ioc.privacy import fold

# Each planted value, and what of it must never be found (digits compared without their grouping).
PLANTED: dict[Any, str] = {
    "079188776655": "079188776655",
    "079 188 776 655": "079188776655",
    "079.188.776.655": "079188776655",
    79188776655: "79188776655",  # a citizen id sent as a JSON number loses its leading zero
    "290554433": "290554433",  # a 9-digit identity card (CMND)
    290554433: "290554433",
    "0918273645": "918273645",
    "0918 273 645": "918273645",
    "+84 918 273 645": "918273645",
    "(0276) 3877 665": "2763877665",
    "Nguyễn Văn Khoa": "nguyen van khoa",
    "NGUYỄN VĂN KHOA": "nguyen van khoa",
    "Nguyen Van Khoa": "nguyen van khoa",
    "khoa.nguyen@gmail.com": "khoa.nguyen@gmail",
    "Liên hệ chị Trần Thị Mai 0918273645": "tran thi mai",
}
BIRTH_DATE = "1989-03-17"  # only in birth-date and unknown fields: a time field may hold any date
UNKNOWN = ["chu_ho_so", "so_dinh_danh", "so_dien_thoai", "email", "ghi_chu", "Nguyễn Văn Khoa"]


def normalised(text: str) -> str:
    """Lower case without diacritics, digits joined across spaces, dots, dashes and brackets."""
    return re.sub(r"(?<=\d)[\s.\-()+]+(?=\d)", "", fold(text))


NEEDLES = sorted({*PLANTED.values(), BIRTH_DATE})


def leaked(text: str) -> list[str]:
    """Each planted value found in ``text``, with what surrounds it."""
    flat = normalised(text)
    return [
        f"{needle} in …{flat[max(0, at - 80) : at + 80]}…"
        for needle in NEEDLES
        if (at := flat.find(needle)) >= 0
    ]


class Rows:
    """A listing serving exactly the rows given (objects dated by ``cap_nhat_luc`` from the cursor)."""

    def __init__(self) -> None:
        self.rows: list[Any] = []

    def page(self, since: datetime | None, page: int, size: int) -> tuple[int, list[Any]]:
        def listed(row: Any) -> bool:
            when = row.get("cap_nhat_luc") if isinstance(row, dict) else None
            try:
                at = datetime.fromisoformat(when) if isinstance(when, str) else None
            except ValueError:
                at = None
            if at is None or at.tzinfo is None:
                return since is None
            return since is None or at >= since

        chosen = [r for r in self.rows if listed(r)]
        return len(chosen), chosen[(page - 1) * size : page * size]
