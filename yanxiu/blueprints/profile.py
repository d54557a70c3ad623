"""个人中心: a teacher's real-name information, school application and its state."""
from flask import Blueprint

bp = Blueprint("profile", __name__, url_prefix="/me")
