"""Start the demo's simulated source systems and point sync/demo_connectors.toml at them."""

from __future__ import annotations

import os
from pathlib import Path

from sync.simulators import server as sim_server
from sync.simulators.data import demo_data, write_files
from sync.simulators.server import SourceSimulator

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "demo_connectors.toml"


def demo_environment(url: str, drop_dir: str) -> dict[str, str]:
    """The variables demo_connectors.toml reads (the simulators' well-known demo secrets)."""
    return {"KPIBOOK_DEMO_SOURCES_URL": url, "KPIBOOK_DEMO_DROP_DIR": drop_dir,
            "KPIBOOK_DEMO_ERP_SECRET": sim_server.CLIENT_SECRET,
            "KPIBOOK_DEMO_CRM_TOKEN": sim_server.CRM_TOKEN,
            "KPIBOOK_DEMO_DINGTALK_SECRET": sim_server.DINGTALK_SECRET,
            "KPIBOOK_DEMO_JIRA_TOKEN": sim_server.JIRA_TOKEN,
            "KPIBOOK_DEMO_GITLAB_TOKEN": sim_server.GITLAB_TOKEN}


def start_demo_sources(drop_dir: str | os.PathLike[str], period: str = "2026-10",
                       port: int = 0, latency: float = 0.0) -> SourceSimulator:
    """Serve the demo records on 127.0.0.1 in a background thread, write the file drops and
    set the environment variables of demo_connectors.toml. Stop it with `.stop()`."""
    data = demo_data(period)
    write_files(data, str(drop_dir))
    sim = SourceSimulator(data, latency=latency, port=port).start()
    os.environ.update(demo_environment(sim.url, str(Path(drop_dir).resolve())))
    return sim
