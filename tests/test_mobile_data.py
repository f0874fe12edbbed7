"""Mobile data (FEEDS.md §3) from a watched drop folder: KPIs by hand, re-deliveries, bad files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import pytest

from connectors.drop_folder import MobileDataConfig, MobileDataConnector
from ioc.connector import Context
from tests import oracle
from tests.pipeline import FeedPipeline

AS_OF = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)
HEADER = (
    "nha_mang,ma_tram,cong_nghe,vi_do,kinh_do,thoi_diem_bat_dau,so_phut,tai_xuong_mb,tai_len_mb,so_thue_bao\n"
)
CITY = "11.3100,106.0980"  # Thành phố Tây Ninh (703)


def row(cell: str, tech: str, start: str, down: float, up: float, subs: object, where: str = CITY) -> str:
    return f"Viettel,{cell},{tech},{where},2026-11-22T{start}:00+07:00,15,{down},{up},{subs}\n"


def drop(folder: Path, name: str, body: str, done: bool = True) -> None:
    (folder / name).write_text(HEADER + body, encoding="utf-8")
    if done:
        (folder / f"{name}.done").touch()


@pytest.fixture
def pipeline(r, units, geodata, tmp_path):
    config = MobileDataConfig(drop_dir=tmp_path)
    context = Context(units=units, http=httpx.Client(), clock=lambda: AS_OF, geodata=geodata)
    run = FeedPipeline(r, units, MobileDataConnector(config, context=context), lambda: AS_OF)
    run.folder = tmp_path
    return run


FIRST = (
    row("A", "5G", "08:00", 1000, 24, 100)
    + row("B", "4G", "08:00", 500, 12, 50)
    + row("C", "4G", "08:00", 1, 1, "abc")
)


def test_kpis_count_each_row_once_across_redeliveries(pipeline, units) -> None:
    folder = pipeline.folder
    drop(folder, "viettel_202611220800.csv", FIRST)
    pipeline.sync()
    drop(folder, "viettel_202611220800.csv", FIRST)  # the same file delivered again
    # a later file repeats row A of 08:00 (a re-delivered row) and adds A at 08:15
    drop(
        folder,
        "viettel_202611220815.csv",
        row("A", "5G", "08:00", 1000, 24, 100) + row("A", "5G", "08:15", 2000, 48, 150),
    )
    pipeline.sync()
    kpis = pipeline.kpis("72", "today")
    assert kpis["traffic_gb"] == {"value": 3.5}  # (1024 + 512 + 2048) MB / 1024
    assert kpis["subscribers"] == {"value": 300}
    assert kpis["share_5g"] == {"value": 3072 / 3584, "numerator": 3072.0, "denominator": 3584.0}
    population = units.frame.filter(units.frame["code"] == "703")["pop_2019"].item()
    assert pipeline.kpis("703", "today")["traffic_per_capita_mb"] == {"value": 3584 / population}
    assert pipeline.kpis("705", "today")["traffic_gb"] == {"value": 0.0}
    pipeline.runner.run_once()  # files leave the folder at the poll after the one that read them
    assert not list(folder.glob("*.csv"))
    assert sorted(p.name for p in (folder / "processed").iterdir()) == [
        "viettel_202611220800.csv",
        "viettel_202611220815.csv",
    ]
    assert pipeline.runner.records == 4  # the identical file was recognised and not read again


def test_bad_rows_and_files_are_dead_letters_with_file_and_line(pipeline) -> None:
    folder = pipeline.folder
    drop(folder, "viettel_202611220800.csv", FIRST + row("D", "4G", "08:00", 5, 1, 3, where="10.03,105.78"))
    drop(folder, "notes.csv", row("E", "4G", "08:00", 5, 1, 3))
    (folder / "vnpt_202611220800.csv").write_text("nha_mang,ma_tram\nVNPT,X\n", encoding="utf-8")
    (folder / "vnpt_202611220800.csv.done").touch()
    drop(folder, "mobifone_202611220800.csv", row("F", "4G", "08:00", 5, 1, 3), done=False)  # not complete
    pipeline.sync()
    reasons = sorted(d["reason"] for d in pipeline.dead_letters())
    assert reasons == [
        "notes.csv: file name is not <operator>_<YYYYmmddHHMM>.csv",
        "viettel_202611220800.csv line 4: so_thue_bao: not a number (abc)",
        "viettel_202611220800.csv line 5: ma_tram D (Viettel) at (10.03, 105.78) is outside the province",
        "vnpt_202611220800.csv: missing columns: cong_nghe, kinh_do, so_phut, so_thue_bao, tai_len_mb, "
        "tai_xuong_mb, thoi_diem_bat_dau, vi_do",
    ]
    pipeline.sync()  # the next poll moves what the published one read
    assert sorted(p.name for p in (folder / "rejected").iterdir()) == [
        "notes.csv",
        "notes.csv.reason.txt",
        "vnpt_202611220800.csv",
        "vnpt_202611220800.csv.reason.txt",
    ]
    assert (folder / "rejected" / "notes.csv.reason.txt").read_text(encoding="utf-8") == (
        "notes.csv: file name is not <operator>_<YYYYmmddHHMM>.csv\n"
    )
    assert (folder / "mobifone_202611220800.csv").exists()  # waits for its .done twin
    assert pipeline.kpis("72", "today")["subscribers"] == {"value": 150}
