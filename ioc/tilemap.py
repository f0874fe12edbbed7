"""A schematic tile map: one equal square per commune, laid out from where its area lies.

No openly licensed 2025 commune boundaries exist, so a room without installed polygons draws the
2025 communes as tiles on one square grid: each area's communes are a compact block of tiles
around the area's *anchor* (the mean position of its communes' former districts), and blocks keep
roughly the places their areas have on the real map. Pure geometry: no file, no library beyond
the standard one, the same answer for the same input.

Coordinates are planar: x is the longitude, y the Web Mercator ordinate in degrees
(:func:`mercator_y`), so that a square of the grid is a square on the rooms' Mercator maps.

The layout is a greedy region growing, deterministic. The areas are placed one after the other,
from the middle of the map outwards (those pushed from their places are then the ones at the edge,
which have room to move outwards). Each takes as its seed the free cell nearest its anchor from
which a block of its size can grow (a cell in a pocket between other blocks is passed over), then
grows one cell at a time, always the free cell next to its block (sharing an edge) nearest its
anchor: its tiles are one piece, and no two tiles share a cell.

Within an area each commune then takes the tile nearest its own *pull*: the mean position of the
former districts its old units came from, so a commune that took units of a neighbouring district
leans towards it. Tiles are drawn a little smaller than their cells, and each area's block has an
outline along its cells' edges (:meth:`TileLayout.outlines`), so the areas read as groups.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Point = tuple[float, float]
Cell = tuple[int, int]  # column, row (rows grow northwards)
Box = tuple[float, float, float, float]  # min x, min y, max x, max y
NEIGHBOURS: tuple[Cell, ...] = ((1, 0), (0, 1), (-1, 0), (0, -1))
PREFIXES = ("Phường ", "Xã ", "Thị trấn ", "Đặc khu ")


@dataclass(frozen=True)
class TileLayout:
    """Where each commune's tile is: its cell, and its area (the block it belongs to)."""

    cells: dict[str, Cell]
    areas: dict[str, str]  # commune -> area

    def boxes(self, inset: float = 0.06) -> dict[str, Box]:
        """Each tile's square in cell units: its cell less ``inset`` on every side."""
        return {
            code: (col + inset, row + inset, col + 1 - inset, row + 1 - inset)
            for code, (col, row) in self.cells.items()
        }

    def outlines(self) -> list[list[Point]]:
        """The areas' outlines in cell units, as lines along the cells' edges: every edge between
        an area's cell and a cell of another area or of none, once, joined into polylines where
        they meet end to end."""
        owner = {cell: self.areas[code] for code, cell in self.cells.items()}
        edges: set[tuple[Cell, Cell]] = set()
        for (col, row), area in owner.items():
            corners = [(col, row), (col + 1, row), (col + 1, row + 1), (col, row + 1)]
            for side, (dx, dy) in enumerate(((0, -1), (1, 0), (0, 1), (-1, 0))):
                if owner.get((col + dx, row + dy)) != area:
                    a, b = corners[side], corners[(side + 1) % 4]
                    edges.add((min(a, b), max(a, b)))
        lines: list[list[Point]] = []
        ends: dict[Cell, list[tuple[Cell, Cell]]] = {}
        for edge in sorted(edges):
            for end in edge:
                ends.setdefault(end, []).append(edge)
        left = set(edges)
        for edge in sorted(edges):
            if edge not in left:
                continue
            left.discard(edge)
            line = [edge[0], edge[1]]
            while True:  # follow the line on from its last point while one edge goes on
                going = [e for e in ends[line[-1]] if e in left]
                if len(going) != 1 or len(ends[line[-1]]) != 2:
                    break
                nxt = going[0]
                left.discard(nxt)
                line.append(nxt[1] if nxt[0] == line[-1] else nxt[0])
            lines.append([(float(x), float(y)) for x, y in line])
        return lines


def layout(
    anchors: Mapping[str, Point],
    members: Mapping[str, Sequence[str]],
    pulls: Mapping[str, Point] | None = None,
) -> TileLayout:
    """The tiles of ``members`` (area -> its communes) on a grid of unit cells, each area's block
    around its anchor (in cell units); ``pulls`` (commune -> a point in cell units, default its
    area's anchor) orders the communes within their block."""
    if missing := sorted(set(members) - set(anchors)):
        raise ValueError(f"areas without an anchor: {missing}")
    seen: dict[str, str] = {}
    for area, codes in members.items():
        for code in codes:
            if code in seen:
                raise ValueError(f"commune {code} is in two areas: {seen[code]} and {area}")
            seen[code] = area
    order = _order(anchors, members)
    taken: dict[Cell, str] = {}
    blocks: dict[str, list[Cell]] = {}
    for area in order:
        need = len(members[area])
        seed = _seed(anchors[area], need, taken)
        block = [seed]
        taken[seed] = area
        while len(block) < need:
            frontier = {
                (c + dx, r + dy) for c, r in block for dx, dy in NEIGHBOURS if (c + dx, r + dy) not in taken
            }
            cell = min(frontier, key=lambda f: (_distance(f, anchors[area]), f[1], f[0]))
            taken[cell] = area
            block.append(cell)
        blocks[area] = block
    cells: dict[str, Cell] = {}
    for area in order:
        free = list(blocks[area])
        anchor = anchors[area]
        wanted = {code: (pulls or {}).get(code, anchor) for code in members[area]}
        # the communes that lean furthest from their anchor choose first
        for code in sorted(wanted, key=lambda c: (-math.dist(wanted[c], anchor), c)):
            cell = min(free, key=lambda f: (_distance(f, wanted[code]), f[1], f[0]))
            free.remove(cell)
            cells[code] = cell
    return TileLayout(cells, dict(seen))


def _order(anchors: Mapping[str, Point], members: Mapping[str, Sequence[str]]) -> list[str]:
    """The areas in the order they are placed: from the middle of the map outwards, so that the
    areas pushed from their places are those at the edge, which have room to move outwards."""
    areas = [a for a in members if members[a]]
    mid = (sum(anchors[a][0] for a in areas) / len(areas), sum(anchors[a][1] for a in areas) / len(areas))
    return sorted(areas, key=lambda a: (math.dist(anchors[a], mid), a))


def _seed(point: Point, need: int, taken: Mapping[Cell, str]) -> Cell:
    """The free cell nearest ``point`` from which a block of ``need`` cells can grow: one in a
    free region of at least that many cells (not a pocket among other blocks)."""
    skipped: set[Cell] = set()
    while True:
        cell = _nearest_free(point, {**taken, **dict.fromkeys(skipped, "")})
        region = _region(cell, taken, need)
        if len(region) >= need:
            return cell
        skipped |= region


def _region(start: Cell, taken: Mapping[Cell, str], enough: int) -> set[Cell]:
    """The free cells joined to ``start`` by edges, up to ``enough`` of them."""
    found = {start}
    queue = [start]
    while queue and len(found) < enough:
        c, r = queue.pop(0)
        for dx, dy in NEIGHBOURS:
            cell = (c + dx, r + dy)
            if cell not in taken and cell not in found:
                found.add(cell)
                queue.append(cell)
    return found


def _distance(cell: Cell, point: Point) -> float:
    return math.dist((cell[0] + 0.5, cell[1] + 0.5), point)


def _nearest_free(point: Point, taken: Mapping[Cell, str]) -> Cell:
    """The free cell whose centre is nearest ``point`` (ties: south then west first), searched
    ring by ring around the cell holding it until no further ring can hold a nearer one."""
    col, row = math.floor(point[0]), math.floor(point[1])

    def key(cell: Cell) -> tuple[float, int, int]:
        return (_distance(cell, point), cell[1], cell[0])

    best: Cell | None = None
    radius = 0
    while best is None or radius - 0.5 <= _distance(best, point):
        for dx in range(-radius, radius + 1):
            for dy in range(-radius, radius + 1):
                cell = (col + dx, row + dy)
                on_ring = max(abs(dx), abs(dy)) == radius
                if on_ring and cell not in taken and (best is None or key(cell) < key(best)):
                    best = cell
        radius += 1
    return best


def mercator_y(lat: float) -> float:
    """The Web Mercator ordinate of a latitude, in degrees (equal to it at the equator)."""
    return math.degrees(math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))


def latitude(y: float) -> float:
    """The latitude of a Web Mercator ordinate in degrees (inverse of :func:`mercator_y`)."""
    return math.degrees(2 * math.atan(math.exp(math.radians(y))) - math.pi / 2)


def short_name(name: str) -> str:
    """What a tile says: the name without "Xã "/"Phường ", a word a line, a name of three words
    or more with its first words as initials ("Xã Dương Minh Châu" -> "D.M.\\nChâu")."""
    for prefix in PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    words = name.split()
    if len(words) <= 2:
        return "\n".join(words)
    return "".join(w[0] + "." for w in words[:-1]) + "\n" + words[-1]
