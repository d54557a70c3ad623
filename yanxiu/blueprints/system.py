"""Health check for the container's HEALTHCHECK and load balancers."""
from flask import Blueprint, jsonify

from yanxiu.db import database
from yanxiu.scope import public

bp = Blueprint("system", __name__)


@bp.route("/healthz")
@public
def health():
    """200 when the database answers; the migration gate answers 503 before this while behind."""
    database.execute_sql("SELECT 1")
    return jsonify(status="ok")
