"""The one typed settings object.

Read once from, in increasing priority: defaults, a TOML file (``carepulse.toml`` in the working
directory, or the path in ``CAREPULSE_SETTINGS_FILE``), and ``CAREPULSE_*`` environment variables
(nested fields with ``__``, e.g. ``CAREPULSE_TARGETS__NO_SHOW_RATE=0.06``). Nothing else in the code
base reads the environment for configuration; everything asks :func:`get_settings`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SETTINGS_FILE = "carepulse.toml"
#: Debian's Chromium: the meeting pack's PDF browser when it is installed.
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def _default_pdf_browser() -> Path | None:
    return DEBIAN_CHROMIUM if DEBIAN_CHROMIUM.is_file() else None


class Settings(BaseSettings):
    """Everything an operator can set."""

    model_config = SettingsConfigDict(
        env_prefix="CAREPULSE_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Field(Path("data"), description="Where the SQLite warehouse, archives and reports live.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the warehouse; default: a SQLite file in data_dir.",
    )
    timezone: str = Field(
        "America/New_York", description="Site timezone: extract timestamps are local to it."
    )

    # Metric conventions
    late_cancel_hours: int = Field(24, description="A cancellation this close to the visit is 'late'.")
    count_late_cancels_as_no_shows: bool = Field(
        False, description="Count late cancellations as no-shows (as UMC Utrecht does)."
    )
    on_time_grace_minutes: int = Field(
        10, description="A visit starting this late or less counts as on time."
    )
    small_cell_threshold: int = Field(10, description="Counts 1..N are suppressed in aggregate views (CMS).")
    targets: dict[str, float] = Field(
        default_factory=lambda: {
            "no_show_rate": 0.07,
            "late_cancellation_rate": 0.05,
            "lead_time_days": 14.0,
            "third_next_available_days": 10.0,
            "cycle_time_minutes": 60.0,
            "referral_loop_closure_rate": 0.80,
            "initial_denial_rate": 0.10,
            "provider_rating_top_box": 0.80,
            "followup_7d_rate": 0.50,
        },
        description="Targets per metric name, in the metric's unit.",
    )

    # Data quality
    accept_warnings: bool = Field(False, description="Load batches that fail batch-level expectations.")
    max_quarantine_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Refuse a load when more than this share of its rows would be quarantined.",
    )
    expectation_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-expectation batch thresholds overriding the suite's."
    )

    # Model and worklist
    scoring_horizon_days: int = Field(14, description="Score appointments this many days ahead.")
    outreach_capacity_per_day: int = Field(40, description="Calls a coordinator team can make a day.")
    test_window_months: int = Field(3, description="Latest months held out for temporal validation.")

    # Dashboard and access
    session_timeout_minutes: int = Field(15, description="Automatic log-off after inactivity.")
    session_absolute_hours: int = Field(
        12, description="A sign-in session ends this long after sign-in, active or not."
    )
    max_failed_logins: int = Field(5, description="Failed sign-ins before an account locks.")
    lockout_minutes: int = Field(15, description="How long a locked account stays locked.")
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict,
        description="Single sign-on: 'user@x.org', '@x.org' or 'group:NAME' -> role; first match in order wins.",
    )
    oidc_groups_claim: str = Field("groups", description="The identity claim that lists the user's groups.")
    oidc_default_role: str | None = Field(
        None, description="Role for an SSO identity no rule matches (None: refused)."
    )
    dashboard_warm_up: bool = Field(
        True,
        description="The dashboard server prepares each new load in the background (checked every 30 s).",
    )
    pdf_browser: Path | None = Field(
        default_factory=_default_pdf_browser,
        description="Chromium or Chrome binary that prints the QI meeting pack to PDF; default: "
        "/usr/bin/chromium when it exists. Empty: no PDF download (print the HTML pack in a browser).",
    )

    @field_validator("pdf_browser", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @property
    def warehouse_url(self) -> str:
        """The SQLAlchemy URL actually used."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'warehouse.sqlite').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.warehouse_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("CAREPULSE_SETTINGS_FILE", DEFAULT_SETTINGS_FILE)
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        return (init_settings, env_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``).

    An invalid setting is a user error naming the setting (never its value: it may be a secret).
    """
    from pydantic import ValidationError

    from carepulse.errors import CarePulseError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise CarePulseError(
            f"invalid setting(s): {problems} (from CAREPULSE_* environment variables or the settings file)"
        ) from None
