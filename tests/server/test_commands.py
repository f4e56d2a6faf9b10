"""The server's CLI commands: db upgrade, users, tokens, xl (in-process), demo, certs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    values = {"KPIBOOK_INSTANCE_PATH": str(tmp_path / "instance"),
              "KPIBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_commands_are_registered():
    out = run("--help").output
    for name in ("db", "users", "tokens", "serve", "xl", "demo"):
        assert name in out


def test_users_require_migrated_database(env):
    result = run("users", "add", "hr", "--role", "hr_admin")
    assert result.exit_code != 0
    assert "kpibook db upgrade" in result.output


def test_db_users_tokens_whoami(env):
    assert run("db", "upgrade").exit_code == 0
    result = run("users", "add", "li", "--role", "executive", "--display-name", "李总",
                 "--authority", '{"departments": ["一车间"]}')
    assert result.exit_code == 0, result.output
    assert run("users", "add", "li", "--role", "hr_admin").exit_code != 0
    result = run("tokens", "create", "li")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("kpb_")
    from server import create_app

    app = create_app()
    # Tokens travel over HTTPS only (docs/security.md).
    https = {"base_url": "https://localhost"}
    resp = app.test_client().get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"},
                                 **https)
    assert resp.json["display_name"] == "李总"
    assert token not in run("tokens", "list").output
    assert run("tokens", "revoke", token[:12]).exit_code == 0
    assert app.test_client().get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {token}"},
        **https).status_code == 401


@pytest.mark.skipif(not TEMPLATE.is_file(), reason="templates not built yet")
def test_xl_in_process(env, tmp_path):
    run("db", "upgrade")
    run("users", "add", "hr", "--role", "hr_admin")
    token = run("tokens", "create", "hr").stdout.strip().splitlines()[0]
    book = tmp_path / "kpi.xlsx"
    shutil.copy(TEMPLATE, book)
    out = tmp_path / "out.xlsx"
    result = run("xl", "new_period", str(book), "--period", "2026-10", "--token", token,
                 "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.is_file()
    result = run("xl", "score", str(out), "--token", token, "--lang", "en")
    assert result.exit_code == 0, result.output
    result = run("xl", "score", str(out))
    assert result.exit_code == 1
    assert "token" in result.output


def test_demo_no_serve(env, tmp_path):
    result = run("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    assert "/addin/manifest.xml" in result.output
    assert "kpb_" in result.output
    again = run("demo", "--no-serve")  # idempotent; old demo tokens are revoked
    assert again.exit_code == 0, again.output


def test_self_signed_certificate(tmp_path):
    from cryptography import x509

    from server.certs import ensure_self_signed

    cert, key = ensure_self_signed(tmp_path)
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    names = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert (key.stat().st_mode & 0o777) == 0o600
    assert ensure_self_signed(tmp_path) == (cert, key)  # reused, not regenerated
    assert cert.read_bytes() == cert.read_bytes()


@pytest.mark.skipif(not TEMPLATE.is_file(), reason="templates not built yet")
def test_xl_over_https(env, tmp_path):
    """`kpibook xl --server https://… --insecure` against a real HTTPS server."""
    import threading

    from werkzeug.serving import make_server

    from server import create_app
    from server.certs import ensure_self_signed

    run("db", "upgrade")
    run("users", "add", "hr", "--role", "hr_admin")
    token = run("tokens", "create", "hr").stdout.strip().splitlines()[0]
    app = create_app()
    cert, key = ensure_self_signed(tmp_path / "certs")
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_port}"
        book = tmp_path / "kpi.xlsx"
        shutil.copy(TEMPLATE, book)
        result = run("xl", "new_period", str(book), "--period", "2026-10", "--server", url,
                     "--token", token,
                     "--insecure")
        assert result.exit_code == 0, result.output
        result = run("xl", "pull", str(book), "--server", url, "--insecure")
        assert result.exit_code == 1 and "token" in result.output
    finally:
        server.shutdown()
