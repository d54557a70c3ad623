"""Flask extensions, created here and bound to the app in the factory."""
from flask_compress import Compress
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"
login_manager.session_protection = None  # sessions are server-side; see yanxiu.scope

csrf = CSRFProtect()
compress = Compress()
