"""Serves the Office.js add-in: the manifest with this server's URL filled in, and its files.

Excel on the web frames these pages from another origin, so the app's after_request hook
leaves X-Frame-Options off under /addin/ (see server/app.py).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, send_from_directory

import addin as addin_package
from server import guards
from server.scoring.messages import both
from server.services.errors import NotFound

bp = Blueprint("addin", __name__, url_prefix="/addin")

ADDIN_DIR = Path(addin_package.__file__).resolve().parent
STATIC_DIR = ADDIN_DIR / "static"
MANIFEST = ADDIN_DIR / "manifest.xml"
# The placeholder the add-in's manifest uses for the server's base URL (docs/addin.md).
BASE_URL_PLACEHOLDER = "{{BASE_URL}}"


def render_manifest(base_url: str, manifest: Path = MANIFEST) -> str:
    """The manifest text with every placeholder replaced by `base_url` (no trailing slash)."""
    text = manifest.read_text(encoding="utf-8")
    return text.replace(BASE_URL_PLACEHOLDER, escape(base_url.rstrip("/"), {'"': "&quot;"}))


@bp.get("/manifest.xml")
@guards.public("Excel loads the add-in manifest before anyone signs in")
def manifest() -> Response:
    if not MANIFEST.is_file():
        raise NotFound(both("addin.no_manifest"))
    body = render_manifest(current_app.config["BASE_URL"])
    resp = Response(body, content_type="application/xml; charset=utf-8")
    resp.headers["Content-Disposition"] = 'inline; filename="kpibook-manifest.xml"'
    return resp


@bp.get("/<path:path>")
@guards.public("the add-in's own files; it asks for a token itself")
def static(path: str) -> Response:
    # send_from_directory refuses paths escaping STATIC_DIR (404), so no traversal.
    resp = send_from_directory(STATIC_DIR, path, max_age=0)
    # Office caches add-in files hard; revalidate so that a server upgrade reaches Excel.
    resp.headers["Cache-Control"] = "no-cache"
    return resp
