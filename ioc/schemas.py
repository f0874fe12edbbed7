"""Canonical record schemas of the feeds, and the source field each canonical column comes from."""

from __future__ import annotations

import polars as pl

from ioc.documents import WINDOWS as WINDOWS  # re-exported: the windows live with the documents
from ioc.validate import Field

DOSSIER_STATUSES = ("tiep_nhan", "dang_xu_ly", "cho_bo_sung", "da_tra_ket_qua", "tu_choi", "rut_ho_so")
DOSSIER_CHANNELS = ("truc_tuyen", "truc_tiep", "buu_chinh")

PUBLIC_SERVICES_FIELDS = (
    Field("ma_ho_so", "id"),
    Field("ma_tthc", "procedure_code", required=False),
    Field("linh_vuc", "sector", required=False),
    Field("ma_don_vi", "agency_code", required=False),
    Field("ma_dvhc", "unit_code", "unit"),
    Field("kenh_nop", "channel", "enum", values=DOSSIER_CHANNELS),
    Field("ngay_tiep_nhan", "received_at", "time"),
    Field("han_xu_ly", "deadline_at", "time"),
    Field("ngay_tra_ket_qua", "returned_at", "time", required=False),
    Field("trang_thai", "status", "enum", values=DOSSIER_STATUSES),
    Field("co_nghia_vu_tai_chinh", "fee_due", "bool"),
    Field("thanh_toan_truc_tuyen", "paid_online", "bool", required=False),
    Field("so_hoa", "digitised", "bool"),
    Field("cap_nhat_luc", "updated_at", "time"),
)

REPORT_SECTORS = (
    "ha_tang_giao_thong",
    "moi_truong",
    "trat_tu_do_thi",
    "an_ninh_trat_tu",
    "chieu_sang",
    "cay_xanh",
    "ngap_nuoc",
    "khac",
)
REPORT_SEVERITIES = ("khan", "phuc_tap", "binh_thuong")
REPORT_CHANNELS = ("tay_ninh_smart", "tong_dai_1022", "cong_thong_tin", "zalo")
REPORT_STATUSES = ("moi", "da_tiep_nhan", "dang_xu_ly", "cho_bo_sung", "da_xu_ly", "tu_choi", "trung_lap")

CITIZEN_FEEDBACK_FIELDS = (
    Field("ma_phan_anh", "id"),
    Field("linh_vuc", "sector", "enum", values=REPORT_SECTORS),
    Field("muc_do", "severity", "enum", values=REPORT_SEVERITIES),
    Field("kenh", "channel", "enum", values=REPORT_CHANNELS),
    Field("vi_do", "lat", "float", required=False, low=-90, high=90),
    Field("kinh_do", "lon", "float", required=False, low=-180, high=180),
    Field("ma_dvhc", "unit_code", "unit", required=False),
    Field("trang_thai", "status", "enum", values=REPORT_STATUSES),
    Field("thoi_diem_tao", "created_at", "time"),
    Field("thoi_diem_tiep_nhan", "accepted_at", "time", required=False),
    Field("thoi_diem_hoan_thanh", "closed_at", "time", required=False),
    Field("danh_gia", "rating", "int", required=False, low=1, high=5),
    Field("noi_dung", "text", required=False),
    Field("cap_nhat_luc", "updated_at", "time"),
)

MOBILE_TECHNOLOGIES = ("4G", "5G")
MOST_MB = 99_999_999  # per cell and period, each way
MOST_SUBSCRIBERS = 999_999  # per cell and period
MOBILE_DATA_FIELDS = (
    Field("nha_mang", "operator"),
    Field("ma_tram", "cell"),
    Field("cong_nghe", "technology", "enum", values=MOBILE_TECHNOLOGIES),
    Field("vi_do", "lat", "float", low=-90, high=90),
    Field("kinh_do", "lon", "float", low=-180, high=180),
    Field("thoi_diem_bat_dau", "period_start", "time"),
    Field("so_phut", "minutes", "int", low=1, high=1440),
    # Bounded by what one cell can carry in a day (10 Gbit/s all day is 108 TB) and serve: a number
    # past them is a broken source, or an identity card number where a counter belongs (nine
    # digits and more), and goes to the dead letters (redacted) instead of being counted.
    Field("tai_xuong_mb", "down_mb", "float", low=0, high=MOST_MB),
    Field("tai_len_mb", "up_mb", "float", low=0, high=MOST_MB),
    Field("so_thue_bao", "subscribers", "int", low=0, high=MOST_SUBSCRIBERS),
)

SEXES = ("nam", "nu")
# After the connector: the citizen id is a keyed pseudonym and the birth date an age band.
VACCINATION_FIELDS = (
    Field("ma_mui_tiem", "id"),
    Field("ma_nguoi", "person"),
    Field("nhom_tuoi", "age_band", required=False),
    Field("gioi_tinh", "sex", "enum", required=False, values=SEXES),
    Field("ma_dvhc", "unit_code", "unit"),
    Field("vac_xin", "vaccine"),
    Field("mui_thu", "dose_number", "int", low=1, high=20),
    Field("thoi_diem_tiem", "given_at", "time"),
    Field("ma_co_so_tiem", "site", required=False),
    Field("cap_nhat_luc", "updated_at", "time"),
)

_TIME = pl.Datetime("us", "UTC")
_KIND_DTYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "enum": pl.String(),
    "unit": pl.String(),
    "time": _TIME,
    "bool": pl.Boolean(),
    "int": pl.Int64(),
    "float": pl.Float64(),
}


def schema_of(fields: tuple[Field, ...], **derived: pl.DataType) -> pl.Schema:
    """The canonical columns of validated fields, then the columns a connector derives."""
    return pl.Schema({**{f.target: _KIND_DTYPES[f.kind] for f in fields}, **derived})


PUBLIC_SERVICES_SCHEMA = schema_of(PUBLIC_SERVICES_FIELDS)
CITIZEN_FEEDBACK_SCHEMA = schema_of(
    CITIZEN_FEEDBACK_FIELDS, located=pl.Boolean(), deadline_at=_TIME, handling_hours=pl.Float64()
)
MOBILE_DATA_SCHEMA = schema_of(MOBILE_DATA_FIELDS, key=pl.String(), unit_code=pl.String())
VACCINATION_SCHEMA = schema_of(VACCINATION_FIELDS)
