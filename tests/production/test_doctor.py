"""`kpibook doctor`: a production-like configuration passes; each broken piece FAILs with a
message naming it, and the command exits 1."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

SECRET = "s" * 48


def _cert(folder: Path, host: str, days: int = 365, start_days: int = -1) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=start_days))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    c, k = folder / f"{host}-{days}.pem", folder / f"{host}-{days}.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return str(c), str(k)


@pytest.fixture
def prod_env(tmp_path, pg_url, monkeypatch):
    """A production-like environment on the real PostgreSQL, migrated, with a history repo."""
    from server import db

    db.upgrade(pg_url)
    history = tmp_path / "history.git"
    subprocess.run(["git", "init", "-q", "--bare", str(history)], check=True)
    env = {"KPIBOOK_DATABASE_URL": pg_url, "KPIBOOK_SECRET_KEY": SECRET,
           "KPIBOOK_BASE_URL": "https://kpi.example.cn", "KPIBOOK_TRUST_PROXY": "1",
           "KPIBOOK_HISTORY_DIR": str(history), "KPIBOOK_INSTANCE_PATH": str(tmp_path / "i"),
           "KPIBOOK_SMTP_HOST": "smtp.example.cn", "KPIBOOK_SMTP_PORT": "587",
           "KPIBOOK_SMTP_STARTTLS": "1"}
    for var in ("KPIBOOK_ALLOW_INSECURE_HTTP", "KPIBOOK_TLS_CERT", "KPIBOOK_TLS_KEY",
                "KPIBOOK_WEBHOOK_URL"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def _doctor():
    from server.cli import main

    return CliRunner().invoke(main, ["doctor"])


def _status(output: str, name: str) -> str:
    line = next(ln for ln in output.splitlines() if ln.startswith(name + " "))
    return line[len(name):].split()[0]


def test_good_configuration_passes(prod_env):
    result = _doctor()
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output.replace("0 FAIL", ""), result.output
    for name in ("secret key", "base URL", "HTTPS only", "database", "migrations",
                 "history repository", "history lock", "e-mail"):
        assert _status(result.output, name) == "OK", (name, result.output)
    assert "PgAdvisoryLock" in result.output
    assert "kpibook_test_pw" not in result.output  # the database password is hidden


def test_good_tls_at_gunicorn(prod_env, monkeypatch, tmp_path):
    cert, key = _cert(tmp_path / "tls", "kpi.example.cn")
    monkeypatch.setenv("KPIBOOK_TLS_CERT", cert)
    monkeypatch.setenv("KPIBOOK_TLS_KEY", key)
    monkeypatch.setenv("KPIBOOK_TRUST_PROXY", "0")
    result = _doctor()
    assert result.exit_code == 0, result.output
    for name in ("certificate", "certificate host", "certificate key", "HTTPS only"):
        assert _status(result.output, name) == "OK", (name, result.output)


@pytest.mark.parametrize(("name", "env", "words"), [
    ("secret key", {"KPIBOOK_SECRET_KEY": None}, "not set"),
    ("secret key", {"KPIBOOK_SECRET_KEY": "changeme"}, "default"),
    ("base URL", {"KPIBOOK_BASE_URL": "http://kpi.example.cn"}, "must be https"),
    ("HTTPS only", {"KPIBOOK_ALLOW_INSECURE_HTTP": "1"}, "plain HTTP"),
    ("database", {"KPIBOOK_DATABASE_URL":
                  "postgresql+psycopg://nobody:pw@127.0.0.1:1/none"}, "unreachable"),
])
def test_each_configuration_failure(prod_env, monkeypatch, name, env, words):
    for k, v in env.items():
        if v is None:
            monkeypatch.delenv(k)
        else:
            monkeypatch.setenv(k, v)
    result = _doctor()
    assert result.exit_code == 1, result.output
    assert _status(result.output, name) == "FAIL", result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith(name + " "))
    assert words in line, line
    assert "pw@" not in result.output


def test_migrations_behind(prod_env, monkeypatch, postgres_server):
    from alembic import command

    from server import db

    command.downgrade(db.alembic_config(prod_env["KPIBOOK_DATABASE_URL"]), "-1")
    result = _doctor()
    assert result.exit_code == 1 and _status(result.output, "migrations") == "FAIL"
    assert "kpibook db upgrade" in result.output


def test_broken_history(prod_env, monkeypatch, tmp_path):
    not_git = tmp_path / "not-git"
    (not_git / "x").mkdir(parents=True)
    monkeypatch.setenv("KPIBOOK_HISTORY_DIR", str(not_git))
    result = _doctor()
    assert result.exit_code == 1 and _status(result.output, "history repository") == "FAIL"
    # a repository whose branch points at a missing commit
    repo = Path(prod_env["KPIBOOK_HISTORY_DIR"])
    (repo / "refs/heads/main").write_text("1" * 40 + "\n")
    monkeypatch.setenv("KPIBOOK_HISTORY_DIR", str(repo))
    result = _doctor()
    assert result.exit_code == 1 and _status(result.output, "history repository") == "FAIL", \
        result.output


@pytest.mark.parametrize(("host", "days", "start", "name"), [
    ("kpi.example.cn", -1, -30, "certificate"),  # expired yesterday
    ("kpi.example.cn", 30, 5, "certificate"),  # not valid yet
    ("other.example.cn", 365, -1, "certificate host"),
])
def test_certificate_failures(prod_env, monkeypatch, tmp_path, host, days, start, name):
    cert, key = _cert(tmp_path / "tls", host, days, start)
    monkeypatch.setenv("KPIBOOK_TLS_CERT", cert)
    monkeypatch.setenv("KPIBOOK_TLS_KEY", key)
    monkeypatch.setenv("KPIBOOK_TRUST_PROXY", "0")
    result = _doctor()
    assert result.exit_code == 1 and _status(result.output, name) == "FAIL", result.output


def test_certificate_with_someone_elses_key(prod_env, monkeypatch, tmp_path):
    cert, _key = _cert(tmp_path / "a", "kpi.example.cn")
    _cert2, other_key = _cert(tmp_path / "b", "kpi.example.cn")
    monkeypatch.setenv("KPIBOOK_TLS_CERT", cert)
    monkeypatch.setenv("KPIBOOK_TLS_KEY", other_key)
    monkeypatch.setenv("KPIBOOK_TRUST_PROXY", "0")
    result = _doctor()
    assert result.exit_code == 1 and _status(result.output, "certificate key") == "FAIL"


def test_no_notifications_is_a_warning(prod_env, monkeypatch):
    monkeypatch.delenv("KPIBOOK_SMTP_HOST")
    result = _doctor()
    assert result.exit_code == 0 and _status(result.output, "notifications") == "WARN"
