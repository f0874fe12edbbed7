"""Canonical record schemas of the feeds, and the source field each canonical column comes from."""

from __future__ import annotations

import polars as pl

from ioc.validate import Field

FEEDS = ("public_services", "citizen_feedback", "mobile_data", "vaccination")
WINDOWS = ("today", "7d", "30d", "mtd", "ytd")

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

_TIME = pl.Datetime("us", "UTC")
_KIND_DTYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "enum": pl.String(),
    "unit": pl.String(),
    "time": _TIME,
    "bool": pl.Boolean(),
}

PUBLIC_SERVICES_SCHEMA = pl.Schema({f.target: _KIND_DTYPES[f.kind] for f in PUBLIC_SERVICES_FIELDS})
