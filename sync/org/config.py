"""`[[org]]` tables of the connectors file: one per organisation source (docs/sync.md,
"Organisation sync").

```toml
[[org]]
name = "dingtalk"                 # at most 16 characters (the lease key is "org:<name>")
platform = "dingtalk"             # dingtalk | feishu | wecom
url = "https://oapi.dingtalk.com" # platform-specific options, see each connector
appkey = "dingxxxx"
appsecret_env = "KPIBOOK_DINGTALK_SECRET"
employee_key = "job_number"       # the platform's user field holding HR's 工号
key_map = { "01234" = "M1001" }   # optional: that field's value -> 工号
schedule = "daily 02:00"          # optional: "daily HH:MM" | "every 30m" | "every 6h"
timezone = "Asia/Shanghai"        # of the schedule
```

The `[[source]]` tables of the same file (data pull) are not affected: sync/config.py reads
those and leaves `[[org]]` alone.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from sync.config import _expand, read_connectors_file
from sync.errors import ConfigError, SourceError
from sync.schedule import DEFAULT_TIMEZONE, Schedule, parse_schedule

PLATFORMS = ("dingtalk", "feishu", "wecom")
DEFAULT_KEYS = {"dingtalk": "job_number", "feishu": "employee_no", "wecom": "userid"}
MAX_NAME = 16


@dataclass(frozen=True, slots=True)
class OrgSourceConfig:
    name: str
    platform: str
    options: dict[str, Any]
    employee_key: str
    key_map: dict[str, str] = dc_field(default_factory=dict)
    schedule: Schedule | None = None
    timeout: float = 10.0
    retries: int = 3  # per request: throttling answers and transport failures
    backoff: float = 0.5  # seconds, doubled per retry
    max_wait: float = 60.0  # never wait longer than this on a platform's say-so

    def secret(self, key: str) -> str:
        """Option `<key>` or the environment variable named by `<key>_env`."""
        if self.options.get(key) not in (None, ""):
            return str(self.options[key])
        var = self.options.get(f"{key}_env")
        if not var:
            raise SourceError(self.name, f"no {key} configured (set {key}_env to the name of "
                                         "an environment variable)")
        value = os.environ.get(str(var))
        if not value:
            raise SourceError(self.name, f"environment variable {var} ({key}) is not set")
        return value

    def url(self, key: str = "url") -> str:
        value = str(self.options.get(key) or "").rstrip("/")
        if not value:
            raise SourceError(self.name, f"{key} is required")
        return value

    def employee_id(self, value: str) -> str:
        """HR's 工号 for the platform's `employee_key` value ('' when it has none)."""
        value = value.strip()
        return self.key_map.get(value, value)


def load_org_config(path: str | os.PathLike[str]) -> tuple[OrgSourceConfig, ...]:
    """The `[[org]]` tables of a connectors file (TOML or YAML); () when it has none."""
    return parse_org_config(read_connectors_file(path), str(Path(path)))


def parse_org_config(data: dict[str, Any], where: str = "<config>"
                     ) -> tuple[OrgSourceConfig, ...]:
    raw = data.get("org") or []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: org must be a list of tables ([[org]])")
    settings = _expand(data.get("settings") or {}, where)
    out: list[OrgSourceConfig] = []
    for i, item in enumerate(raw, 1):
        src = _org(_expand(item, f"{where}: org #{i}"), settings, f"{where}: org #{i}")
        if any(o.name == src.name for o in out):
            raise ConfigError(f"{where}: org name {src.name!r} is used twice")
        out.append(src)
    return tuple(out)


def _org(raw: Any, settings: dict[str, Any], where: str) -> OrgSourceConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    name = str(raw.get("name") or "").strip()
    if not name or len(name) > MAX_NAME or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"{where}: name is required: letters, digits, _ . - and at most "
                          f"{MAX_NAME} characters")
    where = f"{where} ({name})"
    platform = str(raw.get("platform") or "").strip().lower()
    if platform not in PLATFORMS:
        raise ConfigError(f"{where}: platform {platform!r} is not one of "
                          f"{', '.join(PLATFORMS)}")
    # the org tables keep their own default zone (the schedule's, not the company's)
    schedule = parse_schedule(raw.get("schedule"), raw.get("timezone") or settings.get(
        "timezone") or DEFAULT_TIMEZONE, where)
    reserved = {"name", "platform", "employee_key", "key_map", "schedule", "timezone",
                "timeout", "retries", "backoff", "max_wait"}

    def num(key: str, default: float) -> float:
        value = raw.get(key, settings.get(key, default))
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {key} = {value!r} is not a number") from None

    return OrgSourceConfig(
        name=name, platform=platform,
        options={k: v for k, v in raw.items() if k not in reserved},
        employee_key=str(raw.get("employee_key") or DEFAULT_KEYS[platform]),
        key_map={str(k): str(v) for k, v in (raw.get("key_map") or {}).items()},
        schedule=schedule, timeout=num("timeout", 10), retries=int(num("retries", 3)),
        backoff=num("backoff", 0.5), max_wait=num("max_wait", 60))
