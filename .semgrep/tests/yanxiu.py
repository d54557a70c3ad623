# Examples for .semgrep/yanxiu.yml (`semgrep --test`): each `ruleid:` line must be found, each
# `ok:` line must not. Not imported by anything.
# ruleid: yanxiu-random-outside-demo
import random  # noqa
# ruleid: yanxiu-random-outside-demo
from random import choice  # noqa

import jinja2
from flask import Flask, render_template_string, request
from markupsafe import Markup
from peewee import SQL


def sql(database, School, name, table):
    # ruleid: yanxiu-sql-built-from-strings
    database.execute_sql(f"SELECT * FROM school WHERE name = '{name}'")
    # ruleid: yanxiu-sql-built-from-strings
    database.execute_sql("DROP TABLE %s" % table)
    # ruleid: yanxiu-sql-built-from-strings
    database.execute_sql("SELECT * FROM " + table)
    # ruleid: yanxiu-sql-built-from-strings
    database.execute_sql("SELECT * FROM {}".format(table))
    # ruleid: yanxiu-sql-built-from-strings
    School.select().where(SQL(f"name = '{name}'"))
    # ruleid: yanxiu-sql-built-from-strings
    School.raw(f"SELECT * FROM school WHERE name = '{name}'")
    query = f"DELETE FROM {table}"
    # ruleid: yanxiu-sql-built-from-strings-via-variable
    database.execute_sql(query)
    # ok: yanxiu-sql-built-from-strings
    database.execute_sql("SELECT * FROM school WHERE name = %s", [name])
    # ok: yanxiu-sql-built-from-strings
    database.execute_sql("SELECT 1")
    # ok: yanxiu-sql-built-from-strings
    School.select().where(SQL("name = %s", [name]))


def markup(form):
    # ruleid: yanxiu-markup-from-request-data
    Markup(request.args.get("q"))
    text = request.form["name"]
    # ruleid: yanxiu-markup-from-request-data
    Markup(text)
    # ruleid: yanxiu-markup-from-request-data
    Markup(form.name.data)
    # ok: yanxiu-markup-from-request-data
    Markup("<mark>%s</mark>") % request.args.get("q")


def templates(app: Flask):
    # ruleid: yanxiu-render-template-string
    render_template_string("<p>{{ x }}</p>", x=1)
    # ruleid: yanxiu-render-template-string
    jinja2.Template("{{ x }}")
    # ruleid: yanxiu-render-template-string
    app.jinja_env.from_string("{{ x }}")
    # ruleid: yanxiu-autoescape-off
    app.jinja_env.autoescape = False
    # ruleid: yanxiu-autoescape-off
    jinja2.Environment(autoescape=False)


def secrets_in_source(app):
    # ruleid: yanxiu-hardcoded-secret
    SECRET_KEY = "not-so-secret"
    # ruleid: yanxiu-hardcoded-secret
    app.config["SECRET_KEY"] = "not-so-secret"
    # ok: yanxiu-hardcoded-secret
    DEMO_PASSWORD = "Demo@2025"
    # ok: yanxiu-hardcoded-secret
    password_label = ""
    # ok: yanxiu-hardcoded-secret
    app.form.reauth_secret.label.text = "登录密码"
    return SECRET_KEY, DEMO_PASSWORD, password_label, random, choice
