#!/bin/sh
# Container start: apply pending migrations, load the FAQ starting set if there is none, then
# serve with waitress (replacing this shell, so signals reach the server). Run from the
# application directory (/app in the image).
set -e
cd "$(dirname "$0")/.."
flask --app app db upgrade
flask --app app faq load
exec flask --app app serve --host "${YANXIU_HOST:-0.0.0.0}" --port "${YANXIU_PORT:-8000}"
