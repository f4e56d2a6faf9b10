"""Liveness/readiness for load balancers and the demo: is the database reachable and migrated?"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from server import db, guards

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@guards.public("load balancers and the demo check the server is up")
def healthz() -> tuple[Response, int]:
    engine = db.get_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        revision = db.current_revision(engine)
    except Exception:  # noqa: BLE001 - any failure means "not ready"; details go to the log
        return jsonify(status="error", database="unreachable"), 503
    head = db.head_revision()
    ok = revision == head
    return jsonify(status="ok" if ok else "error", database="ok",
                   revision=revision, head=head), 200 if ok else 503
