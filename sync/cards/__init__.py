"""Cards to one person on DingTalk, Feishu or WeCom: the platform's work-notification or
app-message API, with a button that opens the kpibook page (docs/notifications.md).

A channel is a `[[notify]]` table of the connectors file. It names an `[[org]]` table: the
platform's URL, the app's credentials and, through the org sync's identities, who is who.

```toml
[[notify]]
org = "dingtalk"          # the [[org]] table (URL, app key/secret, user ids)
agent_id = "3000001"      # DingTalk agent_id / WeCom agentid (Feishu needs none)
events = ["adjustments_to_approve", "result_to_acknowledge"]  # optional: default all
```

`send_card(channel, user_id, card)` makes one HTTP attempt (plus one new token when the old
one expired) and returns the platform's message reference, or raises `CardError`:
`permanent` when no retry can help (the user is unknown to the platform or outside the
app's scope), else a retry later may succeed (rate limit, outage). Waiting and retrying is
the caller's business (server/services/cards.py), never a sleep here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.config import _expand, read_connectors_file
from sync.errors import ConfigError, SyncError
from sync.org.client import PlatformClient, Verdict
from sync.org.config import OrgSourceConfig, parse_org_config

EVENTS = ("adjustments_to_approve", "result_to_acknowledge", "appeal_to_answer",
          "answer_to_confirm", "period_return", "period_reopen", "approvals_reminder")


@dataclass(frozen=True, slots=True)
class Card:
    """What a person reads: in their language, with the other language as a footnote."""

    title: str
    text: str
    button: str
    url: str  # absolute: the platform's app opens it
    note: str = ""  # the same in the other language


@dataclass(frozen=True, slots=True)
class CardChannel:
    name: str
    org: OrgSourceConfig
    agent_id: str = ""
    events: tuple[str, ...] = EVENTS

    @property
    def platform(self) -> str:
        return self.org.platform

    def wants(self, kind: str) -> bool:
        return kind in self.events


class CardError(SyncError):
    def __init__(self, channel: str, message: str, permanent: bool = False) -> None:
        super().__init__(f"{channel}: {message}")
        self.permanent = permanent


def load_card_channels(path: str | os.PathLike[str]) -> tuple[CardChannel, ...]:
    """The `[[notify]]` tables of a connectors file; () when it has none."""
    return parse_card_channels(read_connectors_file(path), str(Path(path)))


def parse_card_channels(data: dict[str, Any], where: str = "<config>"
                        ) -> tuple[CardChannel, ...]:
    raw = data.get("notify") or []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: notify must be a list of tables ([[notify]])")
    if not raw:
        return ()
    # only the [[org]] tables a channel names: another one's unset ${VAR} is not ours
    named = {str(item.get("org") or "") for item in raw if isinstance(item, dict)}
    orgs = {o.name: o for o in parse_org_config(
        {**data, "org": [o for o in data.get("org") or []
                         if isinstance(o, dict) and str(o.get("name") or "") in named]},
        where)}
    out: list[CardChannel] = []
    for i, item in enumerate(raw, 1):
        here = f"{where}: notify #{i}"
        if not isinstance(item, dict):
            raise ConfigError(f"{here}: must be a table")
        item = _expand(item, here)
        org = orgs.get(str(item.get("org") or ""))
        if org is None:
            raise ConfigError(f"{here}: org = {item.get('org')!r} names no [[org]] table "
                              f"(known: {', '.join(orgs) or 'none'})")
        name = str(item.get("name") or org.name)
        agent = str(item.get("agent_id") or "").strip()
        if org.platform in ("dingtalk", "wecom") and not agent.isdigit():
            raise ConfigError(f"{here} ({name}): agent_id (the app's number) is required "
                              f"for {org.platform}")
        events = item.get("events") or EVENTS
        unknown = [e for e in events if e not in EVENTS]
        if unknown:
            raise ConfigError(f"{here} ({name}): unknown events {unknown} (known: "
                              f"{', '.join(EVENTS)})")
        if any(c.name == name for c in out):
            raise ConfigError(f"{where}: notify name {name!r} is used twice")
        out.append(CardChannel(name, org, agent, tuple(events)))
    return tuple(out)


def send_card(channel: CardChannel, user_id: str, card: Card) -> str:
    """Deliver `card` to the platform user `user_id`; the platform's reference of it."""
    from sync.cards import dingtalk, feishu, wecom

    module = {"dingtalk": dingtalk, "feishu": feishu, "wecom": wecom}[channel.platform]
    # one attempt per call: a throttled or failed card is retried later by the caller
    source = dataclasses.replace(channel.org, retries=0)
    try:
        with PlatformClient(source, module.classify, module.fetch_token) as client:
            return module.send(client, channel, user_id, card)
    except CardError:
        raise
    except SyncError as exc:
        raise CardError(channel.name, getattr(exc, "reason", str(exc))) from None


def refused(channel: CardChannel, verdict: Verdict, user_id: str) -> CardError:
    """A "denied" answer: the user is unknown to the platform or outside the app's scope."""
    return CardError(channel.name, f"user {user_id} refused by {channel.platform}: "
                                   f"{verdict.message}", permanent=True)
