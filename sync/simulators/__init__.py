"""Loopback source systems for the demo, the tests and the benchmark: an ERP REST API with
OAuth2 client credentials and cursor pages, a CRM with bearer token and page numbers, a
GitLab-style API with Link headers, a Jira search API and a DingTalk-style attendance API —
one HTTP server on 127.0.0.1, with injectable faults (timeout, 500, 429, malformed JSON)."""

from sync.simulators.data import SimData, demo_data, synthetic_data
from sync.simulators.server import SourceSimulator

__all__ = ["SimData", "SourceSimulator", "demo_data", "synthetic_data"]
