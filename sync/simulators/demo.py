"""Start the demo's simulated source systems and organisation platforms (DingTalk, Feishu,
WeCom) and point sync/demo_connectors.toml at them."""

from __future__ import annotations

import os
from pathlib import Path

from sync.simulators import dingtalk as dingtalk_sim
from sync.simulators import feishu as feishu_sim
from sync.simulators import oidc as oidc_sim
from sync.simulators import server as sim_server
from sync.simulators import wecom as wecom_sim
from sync.simulators.data import demo_data, write_files
from sync.simulators.dingtalk import DingTalkSimulator
from sync.simulators.feishu import FeishuSimulator
from sync.simulators.oidc import OidcSimulator
from sync.simulators.org_data import OrgData, demo_changes, demo_org
from sync.simulators.platform import PlatformSimulator
from sync.simulators.server import SourceSimulator
from sync.simulators.wecom import WeComSimulator

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "demo_connectors.toml"


def demo_environment(url: str, drop_dir: str) -> dict[str, str]:
    """The variables demo_connectors.toml reads (the simulators' well-known demo secrets)."""
    return {"KPIBOOK_DEMO_SOURCES_URL": url, "KPIBOOK_DEMO_DROP_DIR": drop_dir,
            "KPIBOOK_DEMO_ERP_SECRET": sim_server.CLIENT_SECRET,
            "KPIBOOK_DEMO_CRM_TOKEN": sim_server.CRM_TOKEN,
            "KPIBOOK_DEMO_DINGTALK_SECRET": sim_server.DINGTALK_SECRET,
            "KPIBOOK_DEMO_JIRA_TOKEN": sim_server.JIRA_TOKEN,
            "KPIBOOK_DEMO_GITLAB_TOKEN": sim_server.GITLAB_TOKEN,
            "KPIBOOK_DEMO_FINANCE_KEY": sim_server.FINANCE_KEY}


def start_demo_sources(drop_dir: str | os.PathLike[str], period: str = "2026-10",
                       port: int = 0, latency: float = 0.0) -> SourceSimulator:
    """Serve the demo records on 127.0.0.1 in a background thread, write the file drops and
    set the environment variables of demo_connectors.toml. Stop it with `.stop()`."""
    data = demo_data(period)
    write_files(data, str(drop_dir))
    sim = SourceSimulator(data, latency=latency, port=port).start()
    os.environ.update(demo_environment(sim.url, str(Path(drop_dir).resolve())))
    return sim


class DemoOrg:
    """The DingTalk, Feishu and WeCom simulators of the demo, serving one organisation, and
    the company's OpenID Connect provider (the same people) for platform sign-in."""

    def __init__(self, org: OrgData | None = None) -> None:
        # the managers of the demo's three October scorecards (server/demo.py)
        self.org = org if org is not None else demo_org("manufacturing", "rnd", "sales")
        self._happened = False
        self.dingtalk = DingTalkSimulator(self.org)
        self.feishu = FeishuSimulator(self.org)
        self.wecom = WeComSimulator(self.org)
        self.oidc = OidcSimulator(self.org)
        self.simulators: tuple[PlatformSimulator, ...] = (self.dingtalk, self.feishu,
                                                          self.wecom)

    def start(self) -> DemoOrg:
        for sim in (*self.simulators, self.oidc):
            sim.start()
        return self

    def stop(self) -> None:
        for sim in (*self.simulators, self.oidc):
            sim.stop()

    def environment(self) -> dict[str, str]:
        """The variables the [[org]] tables of demo_connectors.toml read."""
        return {"KPIBOOK_DEMO_DINGTALK_URL": self.dingtalk.url,
                "KPIBOOK_DEMO_DINGTALK_OAPI_URL": self.dingtalk.oapi_url,
                "KPIBOOK_DEMO_DINGTALK_API_URL": self.dingtalk.api_url,
                "KPIBOOK_DEMO_DINGTALK_ORG_SECRET": dingtalk_sim.APP_SECRET,
                "KPIBOOK_DEMO_FEISHU_URL": self.feishu.url,
                "KPIBOOK_DEMO_FEISHU_SECRET": feishu_sim.APP_SECRET,
                "KPIBOOK_DEMO_WECOM_URL": self.wecom.url,
                "KPIBOOK_DEMO_WECOM_SECRET": wecom_sim.CORP_SECRET,
                "KPIBOOK_DEMO_OIDC_URL": self.oidc.url,
                "KPIBOOK_DEMO_OIDC_SECRET": oidc_sim.CLIENT_SECRET}

    def things_happen(self) -> None:
        """A move, a leave, a hire and a narrowed app scope (org_data.demo_changes), once."""
        if not self._happened:
            demo_changes(self.org)
            self._happened = True


def start_demo_org() -> DemoOrg:
    """Serve the demo organisation on 127.0.0.1 (three platforms, one org) and set the
    environment variables of demo_connectors.toml's [[org]] tables. Stop it with `.stop()`."""
    org = DemoOrg().start()
    os.environ.update(org.environment())
    return org
