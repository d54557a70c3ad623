"""yanxiu (研修): administration of K-12 teacher training across China's regions."""
import datetime

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

from yanxiu import crypto, db, security
from yanxiu.config import load_config
from yanxiu.extensions import compress, csrf, login_manager


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment, with `config` overriding (tests)."""
    app = Flask(__name__, instance_relative_config=True)
    from yanxiu.web import IdConverter
    app.url_map.converters["int"] = IdConverter  # before any route: every <int:…> is bounded
    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from yanxiu.services import accounts
    accounts.configure_hasher(app.config["ARGON2_TIME_COST"], app.config["ARGON2_MEMORY_COST"])
    crypto.configure_cipher(app.config["DATA_KEY"])

    db.init_app(app)
    csrf.init_app(app)
    compress.init_app(app)
    login_manager.init_app(app)
    _init_sessions(app)
    _refuse_unmigrated(app)
    security.init_app(app)

    from yanxiu.scope import enforce_policy
    enforce_policy(app)

    from yanxiu.blueprints import (api, auth, codes, faq, notices, profile, programmes, progress,
                                   record_import, regions, school_import, schools, statistics,
                                   system, teachers, tokens, workbench, audit)
    for blueprint in (system.bp, auth.bp, workbench.bp, regions.bp, codes.bp, progress.bp, notices.bp,
                      faq.bp, schools.bp, school_import.bp, profile.bp, teachers.bp,
                      programmes.bp, statistics.bp, api.bp, tokens.bp, record_import.bp, audit.bp):
        app.register_blueprint(blueprint)

    _register_errors(app)
    _register_template_helpers(app)

    from yanxiu import cli
    cli.init_app(app)
    return app


def _init_sessions(app: Flask) -> None:
    from yanxiu.scope import SessionUser
    from yanxiu.services.accounts import SessionLimits, resume_session

    limits = SessionLimits(
        idle=datetime.timedelta(minutes=app.config["SESSION_IDLE_MINUTES"]),
        absolute=datetime.timedelta(minutes=app.config["SESSION_ABSOLUTE_MINUTES"]))

    @login_manager.user_loader
    def _load(token: str):
        session = resume_session(token, limits)
        return SessionUser(session, token) if session else None


def _refuse_unmigrated(app: Flask) -> None:
    """Answer 503 with the fixing command while the database is behind the code."""
    state = {"current": False}

    @app.before_request
    def _gate():
        if state["current"] or request.endpoint == "static":
            return None
        pending = db.pending_migrations()
        if not pending:
            state["current"] = True
            return None
        message = (f"数据库结构未更新（待执行迁移：{', '.join(pending)}）。"
                   f"请运行：{db.MIGRATE_COMMAND}\n")
        return message, 503, {"Content-Type": "text/plain; charset=utf-8"}


API_PREFIX = "/api/"


def _register_errors(app: Flask) -> None:
    def page(status: int, title: str, message: str):
        return render_template("error.html", status=status, title=title, message=message), status

    def routing(status: int, title: str, message: str, api_message: str):
        """A path or method no route has: the API blueprint never sees it, so answer its
        clients in JSON here."""
        def handle(e):
            # A 405 names the methods the path does take (RFC 9110 requires `Allow`).
            allow = {"Allow": ", ".join(e.valid_methods)} if getattr(e, "valid_methods", None) else {}
            if request.path.startswith(API_PREFIX):
                return jsonify({"error": api_message}), status, allow
            return (*page(status, title, message), allow)
        return handle

    app.register_error_handler(404, routing(404, "页面不存在", "您要找的页面不存在，或不在您的管辖范围内。",
                                            "接口不存在：请查看 /api/v1/openapi.json"))
    app.register_error_handler(405, routing(405, "请求方式不支持", "请从页面上的按钮或链接操作。",
                                            "该接口不支持此请求方式"))
    app.register_error_handler(413, lambda e: page(413, "文件太大", "上传的文件超过 20 MB，请拆分后再上传。"))
    app.register_error_handler(CSRFError, lambda e: page(400, "页面已过期", "表单已过期或来源无效，请刷新页面后重试。"))
    app.register_error_handler(500, lambda e: page(500, "系统繁忙", "服务器出错了，请稍后再试。问题已记录。"))


def _register_template_helpers(app: Flask) -> None:
    from yanxiu.formatting import local_date, local_datetime, percent
    from yanxiu.masking import mask_phone
    from yanxiu.models.account import ROLE_LABELS
    from yanxiu.models.region import LEVEL_LABELS

    app.add_template_filter(local_date, "date")
    app.add_template_filter(local_datetime, "datetime")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(mask_phone, "mask_phone")

    app.jinja_env.globals["LEVEL_LABELS"] = LEVEL_LABELS
    app.jinja_env.globals["ROLE_LABELS"] = ROLE_LABELS

    @app.context_processor
    def _clock():
        from yanxiu.models.base import now
        return {"now": now()}

    @app.context_processor
    def _identity():
        from flask_login import current_user
        if not current_user.is_authenticated:
            return {}
        return {"identity_trail": current_user.scope_trail,
                "identity_bindings": current_user.bindings}
