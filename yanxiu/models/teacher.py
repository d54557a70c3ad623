"""Teachers (教师): real-name applications to a school and the memberships they become."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from yanxiu.models.account import Account, Binding
from yanxiu.models.base import BaseModel, now
from yanxiu.models.region import School

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
WITHDRAWN, REMOVED, TRANSFERRED, SUPERSEDED = "withdrawn", "removed", "transferred", "superseded"
GENDERS = ["男", "女"]
# 任教学段 and 任教学科 as the national platform lists them (义务教育 2022 and 普通高中 curricula).
TEACHING_STAGES = ["幼儿园", "小学", "初中", "高中", "中等职业学校", "特殊教育"]
SUBJECTS = ["语文", "数学", "英语", "日语", "俄语", "道德与法治", "思想政治", "历史", "地理",
            "物理", "化学", "生物学", "科学", "信息科技", "信息技术", "通用技术", "体育与健康",
            "音乐", "美术", "艺术", "劳动", "综合实践活动", "心理健康", "书法", "专业课",
            "学前教育", "特殊教育", "其他"]
TITLES = ["正高级教师", "高级教师", "一级教师", "二级教师", "三级教师", "未定级"]
STATE_LABELS = {
    PENDING: "待审核",
    APPROVED: "已通过",
    REJECTED: "未通过",
    WITHDRAWN: "已撤回",
    REMOVED: "已移出",
    TRANSFERRED: "已调出",
    SUPERSEDED: "已更新",
}


class Membership(BaseModel):
    """One application of a teacher to a school (入校申请) with the real-name information
    submitted, and — once the school approves it — the teacher's membership of that school.

    A row moves pending → approved | rejected | withdrawn; an approved row later ends as
    removed (移出), transferred (调出: another school approved the teacher) or superseded (the
    same school approved corrected information). Rows are never deleted, so a school keeps
    seeing who left it and why.

    身份证号 and 手机号 are stored encrypted (`*_cipher`), with a keyed hash (`*_index`) for
    equality look-ups and the masked form for display; the clear value is never stored.
    Partial unique indexes (migration 0005) keep one pending and one approved row per
    account and one approved row per 身份证号 nationally, whatever races happen.
    """
    account = ForeignKeyField(Account, backref="memberships", on_delete="RESTRICT")
    school = ForeignKeyField(School, backref="memberships", on_delete="RESTRICT")
    state = CharField(max_length=12, default=PENDING)
    name = CharField(max_length=30)
    gender = CharField(max_length=2)
    id_cipher = TextField()
    id_index = CharField(max_length=64, index=True)
    id_masked = CharField(max_length=18)
    phone_cipher = TextField()
    phone_index = CharField(max_length=64, index=True)
    phone_masked = CharField(max_length=11)
    stage = CharField(max_length=20)  # 任教学段
    subject = CharField(max_length=20)  # 任教学科
    title = CharField(max_length=20, default="")  # 职称, optional
    submitted_at = DateTimeField(default=now)
    decided_at = DateTimeField(null=True)
    decided_by = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")
    decided_binding = ForeignKeyField(Binding, null=True, backref="+", on_delete="RESTRICT")
    reason = CharField(max_length=200, default="")  # why rejected
    ended_at = DateTimeField(null=True)
    ended_by = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")
    end_reason = CharField(max_length=200, default="")  # why removed, or where it moved
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("school", "state"), False),)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


Membership.add_index(Membership.account, unique=True, where=(Membership.state == PENDING),
                     name="membership_one_pending_per_account")
Membership.add_index(Membership.account, unique=True, where=(Membership.state == APPROVED),
                     name="membership_one_approved_per_account")
Membership.add_index(Membership.id_index, unique=True, where=(Membership.state == APPROVED),
                     name="membership_one_approved_per_id_number")
