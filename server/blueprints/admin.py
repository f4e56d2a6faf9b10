"""Administration: users, roles, executive authority, roster import, OAuth2 clients,
notification log. HR admins change; auditors read."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from flask import Blueprint, Response, current_app, flash, render_template, request
from sqlalchemy import select

from server import auth, guards, throttle
from server.db import get_session
from server.models import Employee, OAuthClient, Role, User
from server.scoring.messages import both, message, msg, why_of
from server.scoring.numbers import checked_decimal
from server.services import cards, platform_signin
from server.services.errors import BadRequest, NotFound
from server.web import back, lang, say_msg
from server.xlwire.textsafe import checked_text

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLES = [r.value for r in Role]


def _user(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        raise NotFound(both("admin.no_user"))
    return user


def _text(value: object) -> str:
    # Blank cells arrive as None or NaN (pandas).
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _listed(text: str) -> list[str]:
    return [p.strip() for p in text.replace("，", ",").replace("、", ",").replace("\n", ",")
            .split(",") if p.strip()]


def _points(text: str, what: str) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    try:  # the one number check ("NaN", "sNaN", "1e999" are not limits)
        value = checked_decimal(text, places=2, whole=7)
    except ValueError as exc:
        raise BadRequest(both("about", who=what, what=why_of(exc))) from None
    if value < 0 or value > 100:
        raise BadRequest(both("admin.points_range", what=what))
    return str(value)


# The user form's text fields: (caption, String(n) of server/models.py User, one line?)
_USER_FIELDS = {"name": (("用户名", "User name"), 100), "display_name": (("显示名", "Name"), 200),
                "email": (("邮箱", "E-mail"), 200), "employee_id": (("工号", "Employee id"), 50)}


def _check_user_fields(form) -> None:  # noqa: ANN001 - werkzeug MultiDict
    """The one text check on the user form: one line, fits its column (400 naming it)."""
    for key, ((zh, en), limit) in _USER_FIELDS.items():
        try:
            checked_text(form.get(key, "").strip(), en, multiline=False, limit=limit)
        except ValueError as exc:
            why = why_of(exc)
            raise BadRequest(f"{zh}：{why.text('zh')}\n{why.text('en')}"  # type: ignore[union-attr]
                             ) from None


def authority_from_form(form) -> dict:  # noqa: ANN001 - werkzeug MultiDict
    auth_data: dict[str, object] = {}
    if _listed(form.get("departments", "")):
        auth_data["departments"] = _listed(form.get("departments", ""))
    if _listed(form.get("indicators", "")):
        auth_data["indicators"] = _listed(form.get("indicators", ""))
    if _listed(form.get("titles", "")):
        auth_data["titles"] = _listed(form.get("titles", ""))
    up = _points(form.get("max_up", ""), message("admin.max_up"))
    down = _points(form.get("max_down", ""), message("admin.max_down"))
    if up is not None:
        auth_data["max_up"] = up
    if down is not None:
        auth_data["max_down"] = down
    return auth_data


@bp.get("/users")
@guards.web("users.view")
def users() -> str:
    db = get_session()
    rows = db.scalars(select(User).order_by(User.role, User.name)).all()
    return render_template("admin/users.html", users=rows, roles=ROLES, now=auth.utcnow(),
                           aware=auth._aware)


@bp.post("/users")
@guards.web("users.manage")
def create_user() -> Response:
    db = get_session()
    form = request.form
    _check_user_fields(form)
    role = form.get("role", "")
    if role not in ROLES:
        raise BadRequest(both("admin.choose_role"))
    password = form.get("password", "")
    if password:
        problem = auth.password_problem(password, lang())
        if problem:
            flash(problem, "error")
            return back("admin.users")
    try:
        user = auth.create_user(db, form.get("name", ""), role, form.get("display_name", ""),
                                authority_from_form(form), form.get("email", "").strip(),
                                password or None, form.get("employee_id", "").strip())
    except ValueError as exc:
        say_msg("admin.cannot_create_user", "error", why=exc)
        return back("admin.users")
    db.commit()
    say_msg("admin.user_created", name=user.name)
    return back("admin.user", user_id=user.id)


@bp.get("/users/<int:user_id>")
@guards.web("users.view")
def user(user_id: int) -> str:
    target = _user(user_id)
    configured = platform_signin.providers(current_app.config)
    return render_template("admin/user.html", user=target, roles=ROLES,
                           now=auth.utcnow(), aware=auth._aware,
                           slowed=throttle.waiting(get_session(), target.name),
                           bindings=platform_signin.bindings_of(get_session(), target),
                           providers=[(p.name, p.platform, p.label(lang())) for p in configured],
                           provider_labels={p.name: p.label(lang()) for p in configured})


@bp.post("/users/<int:user_id>/bindings")
@guards.web("users.manage")
def add_binding(user_id: int) -> Response:
    """HR binds a platform account (its user id, or an OIDC `sub`) to this user."""
    db = get_session()
    target = _user(user_id)
    found = platform_signin.provider(current_app.config, request.form.get("provider", ""),
                                     lang())
    platform_signin.add_binding(db, found, request.form.get("subject", ""), target,
                                auth.current_user().name, lang=lang())
    db.commit()
    say_msg("admin.bound")
    return back("admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>/bindings/<int:binding_id>/delete")
@guards.web("users.manage")
def remove_binding(user_id: int, binding_id: int) -> Response:
    db = get_session()
    platform_signin.remove_binding(db, binding_id, _user(user_id), lang())
    db.commit()
    say_msg("admin.binding_removed")
    return back("admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>")
@guards.web("users.manage")
def update_user(user_id: int) -> Response:
    db = get_session()
    target = _user(user_id)
    me = auth.current_user()
    form = request.form
    _check_user_fields(form)
    role = form.get("role", target.role)
    if role not in ROLES:
        raise BadRequest(both("admin.choose_role"))
    active = form.get("active") == "on"
    if target.id == me.id and (role != target.role or not active):
        say_msg("admin.not_yourself", "error")
        return back("admin.user", user_id=user_id)
    target.display_name = form.get("display_name", "").strip() or target.name
    target.email = form.get("email", "").strip()
    target.role = role
    target.employee_id = form.get("employee_id", "").strip()
    if "lang" in form:  # notifications and cards in this language ("": KPIBOOK_LANG)
        target.lang = form["lang"] if form["lang"] in ("zh", "en") else ""
    target.authority = authority_from_form(form)
    if target.active and not active:
        auth.end_all_sessions(db, target)
    target.active = active
    db.commit()
    say_msg("admin.saved")
    return back("admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>/password")
@guards.web("users.manage")
def reset_password(user_id: int) -> Response:
    db = get_session()
    target = _user(user_id)
    password = request.form.get("password", "")
    problem = auth.password_problem(password, lang())
    if problem:
        flash(problem, "error")
        return back("admin.user", user_id=user_id)
    auth.set_password(target, password)  # revokes the user's tokens
    auth.end_all_sessions(db, target)
    db.commit()
    say_msg("admin.password_set")
    return back("admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>/unlock")
@guards.web("users.manage")
def unlock(user_id: int) -> Response:
    target = _user(user_id)
    target.locked_until = None
    target.failed_logins = 0
    get_session().commit()
    throttle.unlock_account(get_session(), target.name)  # every address's delay
    say_msg("admin.unlocked")
    return back("admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>/mfa-reset")
@guards.web("users.manage")
def reset_mfa(user_id: int) -> Response:
    """A lost phone without recovery codes: the authenticator is removed and the user's
    sign-ins end; a role that needs it enrols again at the next sign-in."""
    db = get_session()
    target = _user(user_id)
    target.totp_secret, target.recovery_codes = None, []
    auth.end_all_sessions(db, target)
    db.commit()
    say_msg("admin.mfa_removed")
    return back("admin.user", user_id=user_id)


# --- roster import -----------------------------------------------------------------------------


@bp.get("/import")
@guards.web("users.manage")
def import_form() -> str:
    return render_template("admin/import.html", report=None)


@bp.post("/import")
@guards.web("users.manage")
def import_roster() -> str:
    """Accounts for the managers of a workbook's roster table (kb_roster): each becomes an
    employee account named by their 工号 (no password until HR sets one), their Employee
    record is updated, and their department decides who may read their results."""
    upload = request.files.get("workbook")
    if upload is None or not upload.filename:
        raise BadRequest(both("import.choose_workbook"))
    from addin.headless import snapshot_from_xlsx
    from server.services.workbook import open_workbook

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roster.xlsx"
        upload.save(path)
        try:
            book = snapshot_from_xlsx(path)
        except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
            raise BadRequest(both("import.unreadable")) from None
    wb = open_workbook(book, ("kb_roster",))
    frame = wb.tables.get("kb_roster")
    if frame is None:
        raise BadRequest(both("import.no_roster"))
    db = get_session()
    report = {"created": [], "updated": [], "skipped": []}
    for i in range(len(frame.frame)):
        emp_id = _text(frame.value(i, "employee_id"))
        name = _text(frame.value(i, "name"))
        dept = _text(frame.value(i, "department"))
        if not emp_id or not name:
            row_no = frame.excel_rows[i]
            report["skipped"].append(msg("import.row_skipped", lang(), row=row_no))
            continue
        email = _text(frame.value(i, "email"))
        position = _text(frame.value(i, "position"))
        emp = db.scalar(select(Employee).where(Employee.employee_id == emp_id))
        if emp is None:
            emp = Employee(employee_id=emp_id, name=name)
            db.add(emp)
        emp.name, emp.department, emp.email, emp.position = name, dept, email, position
        account = db.scalar(select(User).where(User.employee_id == emp_id)) or \
            db.scalar(select(User).where(User.name == emp_id))
        if account is None:
            auth.create_user(db, emp_id, Role.EMPLOYEE.value, name, {}, email,
                             employee_id=emp_id)
            report["created"].append(f"{emp_id} {name}")
        else:
            account.display_name = name
            account.email = email or account.email
            account.employee_id = emp_id
            report["updated"].append(f"{emp_id} {name}")
    db.commit()
    return render_template("admin/import.html", report=report)


# --- OAuth2 clients ----------------------------------------------------------------------------


@bp.get("/clients")
@guards.web("clients.manage")
def clients() -> str:
    rows = get_session().scalars(select(OAuthClient).order_by(OAuthClient.id.desc())).all()
    return render_template("admin/clients.html", clients=rows, scopes=auth.OAUTH_SCOPES,
                           secret=None, new_client=None)


@bp.post("/clients")
@guards.web("clients.manage")
def create_client() -> Response:
    db = get_session()
    me = auth.current_user()
    scopes = request.form.getlist("scopes")
    try:
        row, secret = auth.create_oauth_client(db, request.form.get("name", "").strip()[:100]
                                               or "client", scopes, me.name)
    except ValueError:
        raise BadRequest(both("admin.choose_scope")) from None
    db.commit()
    rows = db.scalars(select(OAuthClient).order_by(OAuthClient.id.desc())).all()
    html = render_template("admin/clients.html", clients=rows, scopes=auth.OAUTH_SCOPES,
                           secret=secret, new_client=row)
    return Response(html, headers={"Cache-Control": "no-store"})


@bp.post("/clients/<int:client_id>/revoke")
@guards.web("clients.manage")
def revoke_client(client_id: int) -> Response:
    db = get_session()
    row = db.get(OAuthClient, client_id)
    if row is None:
        raise NotFound(both("admin.no_client"))
    row.revoked_at = row.revoked_at or dt.datetime.now(dt.UTC)
    db.commit()
    say_msg("admin.client_revoked", client=row.client_id)
    return back("admin.clients")


@bp.post("/clients/<int:client_id>/rotate")
@guards.web("clients.manage")
def rotate_client_secret(client_id: int) -> Response:
    """A new secret, shown once; the old one and its tokens stop working now."""
    db = get_session()
    row = db.get(OAuthClient, client_id)
    if row is None or row.revoked_at is not None:
        raise NotFound(both("admin.no_client"))
    secret = auth.rotate_oauth_secret(db, row)
    db.commit()
    rows = db.scalars(select(OAuthClient).order_by(OAuthClient.id.desc())).all()
    html = render_template("admin/clients.html", clients=rows, scopes=auth.OAUTH_SCOPES,
                           secret=secret, new_client=row)
    return Response(html, headers={"Cache-Control": "no-store"})


@bp.get("/notifications")
@guards.web("notifications.view")
def notifications() -> str:
    status = request.args.get("status", "")
    view = cards.notification_log(get_session(), current_app.config, status)
    return render_template("admin/notifications.html", view=view, rows=view.rows,
                           status=status)


@bp.post("/notifications/<int:notification_id>/retry")
@guards.web("notifications.retry")
def retry_notification(notification_id: int) -> Response:
    row = cards.retry_now(current_app._get_current_object(),  # type: ignore[attr-defined]
                          notification_id, auth.current_user().name)
    if row.status == "sent":
        say_msg("admin.notification_sent", id=row.id)
    else:
        say_msg("admin.notification_failed", "error", id=row.id, error=row.error)
    return back("admin.notifications")
