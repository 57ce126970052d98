"""Source profiles: a declarative TOML mapping from a site's own files to the extract contract.

A profile names, for each contract extract it supplies, the file it comes from (a glob pattern in the
export folder), then how each contract column is filled: renamed from a source column
(``columns``), a constant (``constants``), or derived with a small vocabulary of operations
(``derived``; never ``eval``). ``values`` maps source codes to contract values (``F`` -> ``female``),
``date_formats`` gives the strptime format of a source timestamp column, ``source_timezone`` the zone
naive timestamps are in. Several extracts may come from one file (``unique = true`` keeps one row per
key: patients and departments out of a scheduling export). Errors name the offending key
(``extracts.appointments.columns.visit_typ``). The format is documented in ``docs/sources.md``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from carepulse.contract import EXTRACTS
from carepulse.errors import CarePulseError


class ProfileError(CarePulseError):
    """A profile file is not valid; the message names the key (``extracts.patients.values.sex``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Concat(_Strict):
    """Source columns joined with a separator (``{op = "concat", columns = ["Site", "Room"]}``)."""

    op: Literal["concat"]
    columns: list[str] = Field(min_length=1)
    separator: str = " "


class Coalesce(_Strict):
    """The first non-empty of several source columns."""

    op: Literal["coalesce"]
    columns: list[str] = Field(min_length=1)


class DateTime(_Strict):
    """A timestamp from a date column and a time column (``ApptDate`` + ``ApptTime``)."""

    op: Literal["datetime"]
    date: str
    time: str


class MinutesBetween(_Strict):
    """Whole minutes from one timestamp column to another (duration from start and end)."""

    op: Literal["minutes_between"]
    start: str
    end: str


class Prefix(_Strict):
    """A source column with a fixed prefix (``D-`` + department code), for surrogate keys."""

    op: Literal["prefix"]
    column: str
    prefix: str


class DateOnly(_Strict):
    """A timestamp truncated to its day (midnight), for exports whose visit time is a bare date: map
    the booking time through it too, or a same-day booking would look later than its visit."""

    op: Literal["date"]
    column: str


Derivation = Annotated[
    Concat | Coalesce | DateTime | MinutesBetween | Prefix | DateOnly, Field(discriminator="op")
]


class ExtractMapping(_Strict):
    """How one contract extract is filled from one source file."""

    file: str = Field(description="Glob pattern of the source file, relative to the export folder.")
    columns: dict[str, str] = Field(default_factory=dict, description="contract column = source column")
    constants: dict[str, str] = Field(default_factory=dict)
    derived: dict[str, Derivation] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="source code -> contract value"
    )
    date_formats: dict[str, str] = Field(
        default_factory=dict, description="strptime format per source column"
    )
    unique: bool = Field(False, description="keep one row per key (last wins): entities inside an event file")
    delimiter: str = Field(",", min_length=1, max_length=1)

    def source_columns(self) -> set[str]:
        """Every source column the mapping reads."""
        used = set(self.columns.values()) | set(self.date_formats)
        for d in self.derived.values():
            used |= {v for k, v in d.model_dump().items() if k in ("date", "time", "start", "end", "column")}
            used |= set(getattr(d, "columns", []))
        return used


class SourceProfile(_Strict):
    """A whole profile: which extracts a site's export supplies and how."""

    name: str
    description: str = ""
    format: Literal["csv", "fhir-r4-bulk", "hl7v2-siu"] = Field(
        "csv",
        description="csv: files mapped by ``extracts``; fhir-r4-bulk: NDJSON through ViewDefinitions; "
        "hl7v2-siu: SIU scheduling messages.",
    )
    source_timezone: str | None = Field(
        None, description="IANA zone of naive source timestamps; default: the site timezone (settings)."
    )
    extracts: dict[str, ExtractMapping] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _contract_names(self) -> SourceProfile:
        problems = []
        for name, mapping in self.extracts.items():
            if name not in EXTRACTS:
                problems.append(f"extracts.{name}: not a contract extract (one of {', '.join(EXTRACTS)})")
                continue
            known = set(EXTRACTS[name].column_names)
            for section in ("columns", "constants", "derived", "values"):
                for column in getattr(mapping, section):
                    if column not in known:
                        problems.append(
                            f"extracts.{name}.{section}.{column}: {name} has no column {column!r}"
                        )
            filled = set(mapping.columns) | set(mapping.constants) | set(mapping.derived)
            twice = [
                c
                for c in filled
                if sum(c in getattr(mapping, s) for s in ("columns", "constants", "derived")) > 1
            ]
            problems += [
                f"extracts.{name}.{c}: filled by more than one of columns/constants/derived" for c in twice
            ]
            for column in EXTRACTS[name].columns:
                if not column.nullable and column.name not in filled:
                    problems.append(
                        f"extracts.{name}.columns.{column.name}: required column has no source; "
                        "map it from a source column, set a constant or derive it"
                    )
        if self.format == "csv" and "appointments" not in self.extracts:
            problems.append("extracts.appointments: a profile must supply appointments")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def parse_profile(data: dict[str, Any], origin: str = "profile") -> SourceProfile:
    """Validate a profile's data; a :class:`ProfileError` naming every bad key."""
    try:
        return SourceProfile.model_validate(data)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
            message = err["msg"].removeprefix("Value error, ")
            messages.append(f"{key}: {message}" if key else message)
        raise ProfileError(f"{origin}: " + "; ".join(messages)) from None


def load_profile(path: Path | str) -> SourceProfile:
    """Read a TOML profile file, or a built-in profile by name (``generic-scheduling``)."""
    path = Path(path)
    if not path.exists() and (BUILT_IN / f"{path.name}.toml").is_file():
        path = BUILT_IN / f"{path.name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUILT_IN.glob("*.toml")))
        raise ProfileError(f"profile {path} does not exist (built-in profiles: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: not valid TOML ({exc})") from None
    return parse_profile(data, path.name)


#: Profiles shipped with CarePulse (``--profile NAME`` finds them).
BUILT_IN = Path(__file__).parent / "profiles"
