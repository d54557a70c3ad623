"""Screenshots of the demo for the documentation: docs/screenshots/*.png.

    .venv/bin/python scripts/screenshots.py            # build a fresh demo, shoot, clean up
    .venv/bin/python scripts/screenshots.py --database /tmp/demo.db   # reuse (or keep) a demo db
    .venv/bin/python scripts/screenshots.py --out /tmp/shots

What it does:
1. builds the demo dataset of SPEC §11 (what `flask --app app demo` does:
   migrations, then `yanxiu.services.demo.build_demo()`) into a SQLite database in a
   temporary directory (or the file given by --database; an existing demo is reused);
2. serves the app with waitress on a free loopback port, in a thread of this process;
3. drives Debian's chromium (/usr/bin/chromium, headless, through Playwright; never a
   downloaded browser) and writes, at 1280×800 unless noted:
     login.png          the login page
     workbench.png      xh_admin's workbench (西湖区 研修专项管理员) with its 研修进度 (full page)
     two-factor.png     xh_admin setting up two-factor login (QR code and secret)
     tree.png           zj_admin's region tree: 杭州市 and 西湖区 expanded, 西湖区's school group open
     tree-mobile.png    the same tree at 360×740 (a phone)
     tree-print.png     the same tree with print media emulated (what 打印 puts on paper)
     progress.png       hz_admin's 激活进度 (full page), and progress-print.png as printed
     code-slip.png      a 权限码 hand-over slip just issued by hz_admin
     audit.png          hz_admin's 审计日志 right after that (full page)
     workbench-school.png  school_admin's workbench with an unread 督促
     teachers-review.png   school_admin's 教师管理, 待审核 tab
     me.png             the demo teacher's 个人中心 (state, hours per course, history; full page)
     statistics.png     zj_admin's 研修统计 of 浙江省 (full page), and statistics-print.png as printed
     faq.png            热点问题答疑
   Each is one screen, from the top of the page.

The demo accounts share the password Demo@2025. Password hashing uses a low argon2 cost here
(screenshots only; the demo database made by this script is not for serving).
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, serve_in_thread  # noqa: E402

PASSWORD = "Demo@2025"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 360, "height": 740}


def build_app(db_path: Path):
    """The app on a SQLite demo database at `db_path`, built (or confirmed) first."""
    os.environ.setdefault("YANXIU_SECRET_KEY", "screenshots-only-secret-key")
    os.environ.setdefault("YANXIU_ARGON2_TIME_COST", "1")
    os.environ.setdefault("YANXIU_ARGON2_MEMORY_COST", "8192")
    from yanxiu import create_app
    from yanxiu.db import database, upgrade

    url = f"sqlite:///{db_path}"
    app = create_app({"DATABASE_URL": url})
    from yanxiu.services import faq
    from yanxiu.services.demo import build_demo
    with app.app_context():
        database.connect(reuse_if_open=True)
        upgrade()
        started = time.perf_counter()
        print(build_demo(), f"({time.perf_counter() - started:.1f}s)")
        faq.load_starting_set()
        database.close()
    return app




def log_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/workbench")


def summary_of(page, name: str):
    return page.locator("summary").filter(
        has=page.locator(".name").get_by_text(name, exact=True)).first


def open_tree(page, base: str) -> None:
    """/regions with 杭州市 and 西湖区 expanded and 西湖区's own school group open."""
    page.goto(base + "/regions")
    summary_of(page, "杭州市").click()
    summary_of(page, "西湖区").click()
    group = page.locator('details[hx-get="/regions/330106"] details.school-group').first
    group.wait_for()
    group.locator("summary .name").click()
    group.locator(".schools li").first.wait_for()
    page.mouse.move(0, 0)  # no hover highlight in the picture


def shoot(browser, base: str, out: Path) -> list[Path]:
    written = []

    def save(page, name: str, **kwargs) -> None:
        path = out / name
        page.screenshot(path=str(path), **kwargs)
        written.append(path)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    def new_page(viewport):
        context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1)
        context.set_default_timeout(10_000)
        return context, context.new_page()

    context, page = new_page(DESKTOP)
    page.goto(base + "/login")
    save(page, "login.png")
    log_in(page, base, "xh_admin")
    save(page, "workbench.png", full_page=True)
    page.goto(base + "/account/two-factor")
    page.locator("form[action$='/begin'] button").click()
    page.wait_for_load_state()
    save(page, "two-factor.png", full_page=True)
    context.close()

    context, page = new_page(DESKTOP)
    log_in(page, base, "zj_admin")
    open_tree(page, base)
    save(page, "tree.png")
    page.emulate_media(media="print")
    save(page, "tree-print.png")
    context.close()

    context, page = new_page(DESKTOP)
    log_in(page, base, "hz_admin")
    page.goto(base + "/progress")
    save(page, "progress.png", full_page=True)
    page.emulate_media(media="print")
    save(page, "progress-print.png", full_page=True)
    page.emulate_media(media="screen")
    page.goto(base + "/codes")
    page.select_option("#grant", index=2)
    page.click("form.inline-form button[type=submit]")
    page.locator(".code-big").wait_for()
    save(page, "code-slip.png")
    page.goto(base + "/audit")
    save(page, "audit.png", full_page=True)
    context.close()

    context, page = new_page(DESKTOP)
    log_in(page, base, "school_admin")
    save(page, "workbench-school.png")
    page.goto(base + "/teachers?state=pending")
    save(page, "teachers-review.png")
    page.goto(base + "/faq")
    save(page, "faq.png")
    context.close()

    context, page = new_page(DESKTOP)
    log_in(page, base, "teacher")
    page.goto(base + "/me")
    save(page, "me.png", full_page=True)
    context.close()

    context, page = new_page(DESKTOP)
    log_in(page, base, "zj_admin")
    page.goto(base + "/statistics")
    page.locator("main a[href^='/statistics/']").first.click()
    page.wait_for_load_state()
    save(page, "statistics.png", full_page=True)
    page.emulate_media(media="print")
    save(page, "statistics-print.png", full_page=True)
    context.close()

    context, page = new_page(MOBILE)
    log_in(page, base, "zj_admin")
    open_tree(page, base)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        print(f"  warning: the 360 px page overflows horizontally by {overflow}px")
    save(page, "tree-mobile.png")
    context.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--database", type=Path,
                        help="SQLite file to build the demo into (kept); default: a temp dir")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} not found (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yanxiu-shots-") as tmp:
        app = build_app(args.database or Path(tmp) / "demo.db")
        base, stop = serve_in_thread(app)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                     args=CHROMIUM_ARGS)
                try:
                    written = shoot(browser, base, args.out)
                finally:
                    browser.close()
        finally:
            stop()
    print(f"{len(written)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
