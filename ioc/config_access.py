"""Configuration of who may open what: logins, the public views and the app's embeds.

Sections of :class:`ioc.config.Settings` (``[auth]``, ``[auth.oidc]``, ``[public]``, ``[embed]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Role = Literal["leader", "officer", "admin"]
ROLES: tuple[Role, ...] = ("leader", "officer", "admin")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OidcSettings(_Section):
    """The province's single sign-on (OpenID Connect), through Authlib."""

    metadata_url: str = Field(
        description="The provider's discovery document (`https://sso.../.well-known/openid-configuration`)."
    )
    client_id: str = Field(description="This app's client id at the provider.")
    client_secret: SecretStr | None = Field(
        None, description="Its secret. Environment only: IOC_AUTH__OIDC__CLIENT_SECRET."
    )
    scope: str = Field("openid profile email", description="Scopes asked for.")
    role_claim: str = Field("ioc_role", description="Claim holding the person's role (or a list of groups).")
    units_claim: str = Field("ioc_units", description="Claim holding a duty officer's unit codes.")
    roles: dict[str, Role] = Field(
        default_factory=lambda: {str(r): r for r in ROLES},
        description='Values of the role claim and the role each gives (e.g. `ioc-lanh-dao = "leader"`).',
    )
    label: str = Field("Đăng nhập một cửa (SSO)", description="The button on the login page.")
    recheck_s: float = Field(
        3600.0,
        gt=0,
        le=3600,
        description="A signed-in person's role is read again from the provider (refresh token, "
        "then userinfo) this often, at most hourly; a role no longer granted ends the session.",
    )


class AuthSettings(_Section):
    """Logins: a local user file (hashed passwords) and/or the province's OIDC provider."""

    users_file: Path | None = Field(
        None, description="TOML file of local accounts (`ioc user add` writes it). The demo makes one."
    )
    session_hours: float = Field(12.0, gt=0, description="A login lasts this long ...")
    remember_days: float = Field(
        30.0, gt=0, description="... or this long when 'remember this screen' is ticked (the wall)."
    )
    secure_cookies: bool = Field(False, description="Send the session cookie over HTTPS only (production).")
    audit_maxlen: int = Field(
        1_000_000, ge=1000, description="Entries kept in the audit stream (ioc:audit) before the oldest go."
    )
    failures_maxlen: int = Field(
        100_000,
        ge=1000,
        description="Entries kept in the stream of failed and throttled logins and anonymous "
        "refusals (ioc:audit:failures), apart from ioc:audit so that a flood never pushes it out.",
    )
    attempts_per_address: int = Field(
        10,
        ge=1,
        description="Failed logins a client address may make per `address_window_s` (the form and "
        "HTTP Basic alike; an IPv6 address counts with its /64).",
    )
    address_window_s: int = Field(300, ge=1, description="The window of `attempts_per_address`, in seconds.")
    attempts_per_account: int = Field(
        5, ge=1, description="Failed logins to one account, from anywhere, per `account_window_s`."
    )
    account_window_s: int = Field(900, ge=1, description="The window of `attempts_per_account`, in seconds.")
    oidc: OidcSettings | None = Field(None, description="Single sign-on; none: local accounts only.")


class PublicSettings(_Section):
    """What the public views (the app's embeds and cards) may show."""

    k: int = Field(
        10, ge=2, description="Counts of health and location data below this are hidden ('dưới 10')."
    )


class EmbedSettings(_Section):
    """The panels embedded in Tây Ninh Smart (``/embed/<panel>``) and their tokens."""

    frame_ancestors: list[str] = Field(
        default_factory=list,
        description="Origins that may frame an embed (`https://smart.tayninh.gov.vn`); this host always may.",
    )
    clients: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Backends that mint embed tokens, by name, with their secret. Environment only: "
        'IOC_EMBED__CLIENTS=\'{"tayninh_smart": "..."}\'; the demo makes one.',
    )
    token_ttl_s: int = Field(300, ge=10, le=3600, description="Longest life of an embed token (seconds).")
    session_s: int = Field(
        8 * 3600, ge=60, description="How long an opened embed stays live before the app must open it anew."
    )
