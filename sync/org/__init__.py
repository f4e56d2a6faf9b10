"""Organisation sync: departments, people and reporting lines from DingTalk, Feishu and WeCom.

One connector per platform (sync/org/dingtalk.py, feishu.py, wecom.py): pure I/O against the
platform's contacts API plus mapping to an `OrgSnapshot`. No Flask, no database: the server's
server/services/orgsync.py turns a snapshot into a roster change HR reviews and applies.
"""

from __future__ import annotations

from sync.org.config import PLATFORMS, OrgSourceConfig
from sync.org.model import Departure, OrgContext, OrgDepartment, OrgPerson, OrgSnapshot

__all__ = ["PLATFORMS", "Departure", "OrgContext", "OrgDepartment", "OrgPerson", "OrgSnapshot",
           "OrgSourceConfig", "fetch_org"]


def fetch_org(source: OrgSourceConfig, ctx: OrgContext | None = None) -> OrgSnapshot:
    """The organisation as `source`'s platform shows it."""
    from sync.org import dingtalk, feishu, wecom

    fetchers = {"dingtalk": dingtalk.fetch_org, "feishu": feishu.fetch_org,
                "wecom": wecom.fetch_org}
    return fetchers[source.platform](source, ctx or OrgContext())
