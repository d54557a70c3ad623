"""Teachers for tests: valid 身份证号 and 手机号 generators and a few applications in every state."""
import random

from stdnum.cn import ric

from yanxiu.services import accounts, teachers


def valid_id_number(seed: int, region: str = "330106", birth: str = "19850314") -> str:
    """A valid 18-digit 身份证号 (GB 11643 check digit) that differs for every seed."""
    body = f"{region}{birth}{seed % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # the function ignores the last character


def valid_mobile(seed: int) -> str:
    return f"139{seed:08d}"[-11:] if seed < 10**8 else f"13{seed % 10**9:09d}"


def teacher_data(seed: int, **overrides) -> dict:
    """A complete 个人中心 submission."""
    data = {"name": random.Random(seed).choice(["李明", "张丽", "陈思远", "阿依古丽·买买提", "赵敏"]),
            "gender": "女" if seed % 2 else "男", "id_number": valid_id_number(seed),
            "phone": valid_mobile(seed), "stage": "小学", "subject": "数学", "title": "一级教师"}
    return data | overrides


DISPLAY_NAMES = {"t_pending": "待审老师", "t_rejected": "未过老师", "t_removed": "移出老师",
                 "t_mover": "调动老师", "t_other": "海曙老师", "t_far": "玄武老师"}


def build_teachers(tree: dict, password: str) -> dict:
    """Named memberships in the fixture tree (all at 西湖区第一小学 unless said):

    - `teacher` (the tree's 王老师): approved;
    - `t_pending`: pending;  `t_rejected`: rejected;  `t_removed`: removed;
    - `t_mover`: approved at 西湖区文新中学, pending a move to 西湖区第一小学;
    - `t_other`: approved at 海曙区实验小学 (another county);
    - `t_far`: pending at 玄武区北京东路小学 (another province).
    Returns {"accounts": {...}, "memberships": {...}, "data": {username: submitted data}}.
    """
    schools = tree["schools"]
    admins = {code: tree["accounts"][name] for code, name in
              (("3301060001", "school_admin"), ("3301060002", "multi"))}
    from yanxiu.models import Binding

    def admin_binding(school_code):
        account = admins.get(school_code)
        if account is not None:
            return Binding.get((Binding.account == account) & (Binding.school == schools[school_code]))
        other = accounts.register(f"adm{school_code}", "校管", password)
        admins[school_code] = other
        return Binding.create(account=other, role="school", school=schools[school_code])

    plan = [("teacher", "3301060001", "approve", 1), ("t_pending", "3301060001", None, 2),
            ("t_rejected", "3301060001", "reject", 3), ("t_removed", "3301060001", "remove", 4),
            ("t_mover", "3301060002", "approve", 5), ("t_other", "3302030001", "approve", 6),
            ("t_far", "3201020001", None, 7)]
    accts, rows, data = {}, {}, {}
    for username, school_code, act, seed in plan:
        account = tree["accounts"].get(username) or accounts.register(username, DISPLAY_NAMES[username], password)
        accts[username] = account
        data[username] = teacher_data(seed)
        row = teachers.submit_application(account, schools[school_code].id, data[username])
        binding = admin_binding(school_code)
        if act in ("approve", "remove"):
            row = teachers.approve(binding, row.id)
        if act == "reject":
            row = teachers.reject(binding, row.id, "非本校（机构）教师")
        if act == "remove":
            row = teachers.remove_teacher(binding, row.id, "调离教学岗位")
        rows[username] = row
    rows["t_mover_old"] = rows["t_mover"]
    rows["t_mover"] = teachers.submit_application(accts["t_mover"], schools["3301060001"].id,
                                                  data["t_mover"])
    return {"accounts": accts, "memberships": rows, "data": data}
