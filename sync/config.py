"""The connectors file (TOML or YAML): which sources exist and how their records map to facts.

Secrets never live in the file: a key ending in `_env` names an environment variable that is
read when the source is fetched (`client_secret_env = "KPIBOOK_ERP_SECRET"`), and any string
may use `${VAR}` or `${VAR:-default}`. See docs/sync.md for the format.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sync.errors import ConfigError, SourceError

KINDS = ("rest", "sql", "files", "jira", "dingtalk", "push")
AGGREGATES = ("sum", "avg", "last", "first", "min", "max", "count", "ratio", "label")
UNITS = ("", "percent", "fraction")  # source_unit: how the source writes a rate
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Measure:
    """One side of a ratio: sum of `field` (or a count when field is empty) over matching
    records."""

    field: str = ""
    where: dict[str, Any] = dc_field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IndicatorMap:
    indicator: str
    field: str = "actual"
    aggregate: str = "sum"
    value: str = ""  # record field holding the number (not needed for count/ratio)
    where: dict[str, Any] = dc_field(default_factory=dict)  # record filter: field -> value(s)
    numerator: Measure | None = None
    denominator: Measure | None = None
    source_unit: str = ""  # "percent" (98.8) or "fraction" (0.988): how the source writes it
    unit: str = ""  # what kb_data shows; "%" means the value is a fraction
    scale: Decimal = Decimal(1)  # multiply after aggregation, e.g. 0.0001 for 元 -> 万元
    min: Decimal | None = None  # values outside [min, max] are reported, not stored
    max: Decimal | None = None
    zero_fill: bool = False  # employees the source answered for, without records, get 0
    unit_field: str = ""  # record field naming the unit of each value ...
    expect_unit: tuple[str, ...] = ()  # ... which must be one of these
    date_field: str = ""  # orders records for last/first


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    kind: str
    options: dict[str, Any]
    employee_key: str = "employee_id"
    key_map: dict[str, str] = dc_field(default_factory=dict)
    indicators: tuple[IndicatorMap, ...] = ()
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    external_id: str = ""  # record field that identifies a record (push, files)

    def secret(self, key: str) -> str:
        """The value of option `<key>` or the environment variable named by `<key>_env`."""
        if key in self.options and self.options[key] not in (None, ""):
            return str(self.options[key])
        var = self.options.get(f"{key}_env")
        if not var:
            raise SourceError(self.name, f"no {key} configured (set {key}_env to the name of "
                                         "an environment variable)")
        value = os.environ.get(str(var))
        if not value:
            raise SourceError(self.name, f"environment variable {var} ({key}) is not set")
        return value


@dataclass(frozen=True, slots=True)
class SyncConfig:
    sources: tuple[SourceConfig, ...]
    path: str = ""
    workers: int = 8

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    """A month `2026-10`: start inclusive, end exclusive; template values for queries."""

    code: str
    start: dt.date
    end: dt.date

    @classmethod
    def of(cls, code: str) -> PeriodWindow:
        m = re.fullmatch(r"(\d{4})-(\d{2})", code.strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"period {code!r} is not a month like 2026-10")
        year, month = int(m.group(1)), int(m.group(2))
        start = dt.date(year, month, 1)
        end = dt.date(year + (month == 12), month % 12 + 1, 1)
        return cls(code.strip(), start, end)

    def params(self) -> dict[str, Any]:
        last = self.end - dt.timedelta(days=1)
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        start_dt = dt.datetime.combine(self.start, dt.time(), dt.UTC)
        end_dt = dt.datetime.combine(self.end, dt.time(), dt.UTC)
        return {"period": self.code, "period_start": self.start.isoformat(),
                "period_end": last.isoformat(), "period_end_exclusive": self.end.isoformat(),
                "period_start_ms": int((start_dt - epoch).total_seconds() * 1000),
                "period_end_ms": int((end_dt - epoch).total_seconds() * 1000)}


def fill(template: Any, values: dict[str, Any]) -> Any:
    """`{period_start}` style placeholders in strings (recursively); other text untouched.
    Used for URLs, JQL and request bodies — SQL gets bound parameters instead."""
    if isinstance(template, str):
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))),
                      template)
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def read_connectors_file(path: str | os.PathLike[str]) -> dict:
    """The connectors file (TOML, or YAML by its suffix) as data; ConfigError names the file.
    Both its `[[source]]` tables (here) and its `[[org]]` tables (sync/org/config.py) are
    read from it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: connectors file not found")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text) or {}
        return tomllib.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parser error is the file's fault
        raise ConfigError(f"{p}: cannot be read: {exc}") from None


def load_config(path: str | os.PathLike[str]) -> SyncConfig:
    """Read and check a connectors file; ConfigError names the file, source and key."""
    return parse_config(read_connectors_file(path), str(Path(path)))


def parse_config(data: dict[str, Any], where: str = "<config>") -> SyncConfig:
    # [[org]] tables are sync/org/config.py's: their ${VAR}s are read only by an org sync
    data = _expand({k: v for k, v in data.items() if k not in ("org", "notify")}, where)
    settings = data.get("settings") or {}
    base = Path(where).parent if where and not where.startswith("<") else Path(".")
    raw_sources = data.get("source") or data.get("sources") or []
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(f"{where}: no sources: add [[source]] tables")
    sources, names = [], set()
    for i, raw in enumerate(raw_sources, 1):
        src = _source(raw, settings, base, f"{where}: source #{i}")
        if src.name in names:
            raise ConfigError(f"{where}: source name {src.name!r} is used twice")
        names.add(src.name)
        sources.append(src)
    return SyncConfig(tuple(sources), where, int(settings.get("workers", 8)))


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            got = os.environ.get(m.group(1))
            if got is None:
                if m.group(2) is None:
                    raise ConfigError(f"{where}: environment variable {m.group(1)} is not set "
                                      f"(used as ${{{m.group(1)}}})")
                return m.group(2)
            return got
        return _ENV.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    return value


def _dec(value: Any, where: str, key: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: {key} = {value!r} is not a number") from None


def _source(raw: Any, settings: dict[str, Any], base: Path, where: str) -> SourceConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    name = str(raw.get("name") or "").strip()
    if not name:
        raise ConfigError(f"{where}: name is required")
    where = f"{where} ({name})"
    kind = str(raw.get("kind") or "").strip().lower()
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    key_map = {str(k): str(v) for k, v in (raw.get("key_map") or {}).items()}
    if raw.get("key_map_file"):
        key_map.update(_key_file(base / str(raw["key_map_file"]), where))
    indicators = tuple(_indicator(m, f"{where} indicator #{j}")
                       for j, m in enumerate(raw.get("indicator") or raw.get("indicators")
                                             or [], 1))
    if not indicators:
        raise ConfigError(f"{where}: no [[source.indicator]] mappings")
    reserved = {"name", "kind", "employee_key", "key_map", "key_map_file", "indicator",
                "indicators", "timeout", "retries", "backoff", "external_id"}
    options = {k: v for k, v in raw.items() if k not in reserved}
    if kind == "files" and options.get("folder"):
        options["folder"] = str((base / str(options["folder"])).resolve())
    return SourceConfig(
        name=name, kind=kind, options=options,
        employee_key=str(raw.get("employee_key") or "employee_id"), key_map=key_map,
        indicators=indicators,
        timeout=float(raw.get("timeout", settings.get("timeout", 10))),
        retries=int(raw.get("retries", settings.get("retries", 3))),
        backoff=float(raw.get("backoff", settings.get("backoff", 0.5))),
        external_id=str(raw.get("external_id") or ""))


def _key_file(path: Path, where: str) -> dict[str, str]:
    """Two columns: the source's key, our employee id (a header row is skipped)."""
    if not path.is_file():
        raise ConfigError(f"{where}: key_map_file {path} not found")
    out = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if len(row) < 2 or not row[0].strip():
                continue
            if n == 1 and not any(ch.isdigit() for ch in row[1]):
                continue  # header
            out[row[0].strip()] = row[1].strip()
    return out


def _measure(raw: Any, where: str) -> Measure | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Measure(raw)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a field name or {{field, where}}")
    return Measure(str(raw.get("field") or ""), dict(raw.get("where") or {}))


def _indicator(raw: Any, where: str) -> IndicatorMap:
    if not isinstance(raw, dict) or not raw.get("indicator"):
        raise ConfigError(f"{where}: indicator is required")
    where = f"{where} ({raw['indicator']})"
    agg = str(raw.get("aggregate") or "sum").lower()
    if agg not in AGGREGATES:
        raise ConfigError(f"{where}: aggregate {agg!r} is not one of {', '.join(AGGREGATES)}")
    numerator = _measure(raw.get("numerator"), f"{where} numerator")
    denominator = _measure(raw.get("denominator"), f"{where} denominator")
    if agg == "ratio" and (numerator is None or denominator is None):
        raise ConfigError(f"{where}: aggregate ratio needs numerator and denominator")
    value = str(raw.get("value") or "")
    if agg not in ("count", "ratio") and not value:
        raise ConfigError(f"{where}: aggregate {agg} needs value = <record field>")
    source_unit = str(raw.get("source_unit") or "").lower()
    if source_unit not in UNITS:
        raise ConfigError(f"{where}: source_unit {source_unit!r} is not percent or fraction")
    expect = raw.get("expect_unit") or ()
    rng = raw.get("range") or [None, None]
    return IndicatorMap(
        indicator=str(raw["indicator"]), field=str(raw.get("field") or "actual"),
        aggregate=agg, value=value, where=dict(raw.get("where") or {}),
        numerator=numerator, denominator=denominator, source_unit=source_unit,
        unit=str(raw.get("unit") or ""),
        scale=_dec(raw.get("scale"), where, "scale") or Decimal(1),
        min=_dec(rng[0], where, "range"), max=_dec(rng[1], where, "range"),
        zero_fill=bool(raw.get("zero_fill", False)),
        unit_field=str(raw.get("unit_field") or ""),
        expect_unit=tuple(str(u) for u in ([expect] if isinstance(expect, str) else expect)),
        date_field=str(raw.get("date_field") or ""))
