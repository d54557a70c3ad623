"""教师管理: review, removal and reveal by the school admin; teacher lists and counts for
region admins (管理完善专任教师数据)."""
from flask import Blueprint

bp = Blueprint("teachers", __name__, url_prefix="/teachers")
