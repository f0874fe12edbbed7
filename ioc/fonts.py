"""The rooms' font, Be Vietnam Pro (SIL Open Font License 1.1, no reserved name; from the
``fontpkg-be-vietnam-pro`` package), served as WOFF2 subsets the way font services do it.

Each weight is cut by fontTools into three parts by Unicode range: Latin, Vietnamese (the letters
with their stacked marks, ₫) and the rest of Latin Extended. A page's ``@font-face`` rules carry
the same ranges, so the browser fetches only the parts its text uses: a Vietnamese page takes
Latin and Vietnamese, 18 kB a weight instead of 140 kB of TrueType (46 kB in Brotli). The parts
are built once per process, in a background thread started by its first request, and kept.
"""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import fontpkg_be_vietnam_pro
from fontTools import subset
from fontTools.ttLib import TTFont

FONT_DIR = Path(fontpkg_be_vietnam_pro.__file__).parent / "files"
FAMILY = "Be Vietnam Pro"
WEIGHTS = {400: "Regular", 500: "Medium", 700: "Bold"}
# Google Fonts' subsets of this family, with the rest of the font's letters (≈ ≤ ≥ ⁰ ₀ ⅛, the
# combining marks) placed so that every one of them is in a part.
SUBSETS = {
    "latin": "U+0000-00FF, U+0131, U+0152-0153, U+02BB-02BC, U+02C6, U+02DA, U+02DC, U+0304, "
    "U+0308, U+0329, U+2000-206F, U+2070-209F, U+20AC, U+2122, U+2150-215F, U+2191, U+2193, U+2212, "
    "U+2215, U+2248, U+2260, U+2264-2265, U+FEFF, U+FFFD",
    "vietnamese": "U+0102-0103, U+0110-0111, U+0128-0129, U+0168-0169, U+01A0-01A1, U+01AF-01B0, "
    "U+0300-0304, U+0306, U+0308-0309, U+031B, U+0323, U+0329, U+1EA0-1EF9, U+20AB",
    # Latin Extended less what the two above hold: overlapping ranges would fetch both parts.
    "latin-ext": "U+0100-0101, U+0104-010F, U+0112-0127, U+012A-0167, U+016A-019F, U+01A2-01AE, "
    "U+01B1-02BA, U+02BD-02C5, U+02C7-02CC, U+02CE-02D9, U+02DB, U+02DD-02FF, U+0307, U+030A-030C, "
    "U+0312, U+0326-0328, U+1D00-1DBF, U+1E00-1E9F, "
    "U+1EFA-1EFF, U+20A0-20AA, U+20AD-20C0, U+2113, U+2C60-2C7F, U+A720-A7FF",
}
NAME = re.compile(r"BeVietnamPro-(?P<style>[A-Za-z]+)\.(?P<part>[a-z-]+)\.woff2")


def file_name(weight: int, part: str) -> str:
    return f"BeVietnamPro-{WEIGHTS[weight]}.{part}.woff2"


def font_faces(weights: tuple[int, ...] = tuple(WEIGHTS)) -> str:
    """The ``@font-face`` rules for these weights (what the style sheets hold, checked by a test)."""
    return "\n".join(
        f'@font-face {{ font-family: "{FAMILY}"; font-weight: {weight}; font-display: swap; '
        f'src: url("/fonts/{file_name(weight, part)}") format("woff2"); unicode-range: {ranges}; }}'
        for weight in weights
        for part, ranges in SUBSETS.items()
    )


def build(style: str, part: str) -> bytes:
    """One weight's part as WOFF2, its layout features (the marks' positions) kept and its
    TrueType hinting dropped, as font services send it to all but old Windows: the instructions
    were half the bytes (Latin 22.5 → 12.9 kB, Vietnamese 12.6 → 4.9 kB), and Chromium on
    Linux, Android and macOS does not run them."""
    font = TTFont(FONT_DIR / f"BeVietnamPro-{style}.ttf")
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.hinting = False
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=subset.parse_unicodes(SUBSETS[part].replace(" ", "")))
    cutter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff2"
    font.save(out)
    return out.getvalue()


class Fonts:
    """The parts, built once and kept; :meth:`warm` builds them all in the background."""

    def __init__(self) -> None:
        self._built: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._warming = False

    def get(self, name: str) -> bytes | None:
        """The file of that name, or None when there is no such part."""
        match = NAME.fullmatch(name)
        if not match or match["style"] not in WEIGHTS.values() or match["part"] not in SUBSETS:
            return None
        with self._lock:
            if name not in self._built:
                self._built[name] = build(match["style"], match["part"])
            return self._built[name]

    def warm(self) -> None:
        """Build every part in a background thread, once (called at each request: the first one
        starts it, so that building the app starts no thread)."""
        if self._warming:
            return
        self._warming = True
        names = [file_name(weight, part) for weight in WEIGHTS for part in SUBSETS]
        threading.Thread(target=lambda: [self.get(n) for n in names], name="fonts", daemon=True).start()
