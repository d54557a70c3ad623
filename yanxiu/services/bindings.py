"""Admin bindings (绑定): creating the first operator; codes and hand-over come later."""
from yanxiu.db import database
from yanxiu.models import Binding, Region
from yanxiu.models.account import OPERATOR
from yanxiu.models.region import NATION_CODE
from yanxiu.services import accounts, audit
from yanxiu.services.accounts import AccountError


def create_operator(username: str, display_name: str, password: str):
    """Create a 平台运维 account bound to 全国 (a fresh database has no accounts until this)."""
    root = Region.get_or_none(Region.code == NATION_CODE)
    if root is None:
        raise AccountError("请先载入行政区划：flask --app app regions load")
    with database.atomic():
        account = accounts.register(username, display_name, password)
        binding = Binding.create(account=account, role=OPERATOR, region=root)
        audit.record("binding.created", actor=account, binding=binding, target_type="binding",
                     target_id=binding.id, after={"role": OPERATOR, "region": NATION_CODE})
    return account
