"""WSGI entry point: `flask --app app …` and `waitress-serve --call app:create_app`."""
from yanxiu import create_app

app = create_app()
