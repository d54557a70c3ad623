#!/usr/bin/env bash
# Static checks (SECURITY.md row 16): bandit over yanxiu/ (configured in pyproject.toml
# [tool.bandit]) and semgrep with the local rules of .semgrep/ (no SQL built from strings, no
# |safe or Markup on request data, no templates from strings, ...), offline. Any finding fails.
#
#   scripts/static_checks.sh        # from anywhere; CI runs it from .ci/run before the tests
#
# bandit is a dev extra of the project, in .venv (made by bootstrap.py when missing). semgrep
# pins peewee 3, which would downgrade the app's peewee in .venv, so it lives in a venv of its
# own, .venv-semgrep, made on first use (pip, from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

SEMGREP_VERSION=1.185.0
SEMGREP_VENV=.venv-semgrep
started=$SECONDS

if [ ! -x .venv/bin/bandit ]; then
    python3 -c 'import bootstrap; bootstrap.ensure_venv()'
fi
# Asked of pip's metadata: `semgrep --version` would look for a newer release online first.
installed=$("$SEMGREP_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("semgrep"))' \
            2>/dev/null || true)
if [ "$installed" != "$SEMGREP_VERSION" ]; then
    echo "static checks: installing semgrep $SEMGREP_VERSION into $SEMGREP_VENV"
    python3 -m venv "$SEMGREP_VENV"
    "$SEMGREP_VENV/bin/pip" install --quiet --disable-pip-version-check "semgrep==$SEMGREP_VERSION"
fi

status=0

echo "static checks: bandit"
.venv/bin/bandit -q -r yanxiu -c pyproject.toml || status=1

# Offline and quiet: no metrics, no version check, only the local rules.
export SEMGREP_SEND_METRICS=off SEMGREP_ENABLE_VERSION_CHECK=0
SEMGREP=("$SEMGREP_VENV/bin/semgrep" --metrics=off --disable-version-check --quiet)

# The rules first: each rule's examples (.semgrep/tests/) must be found, and only those.
echo "static checks: semgrep rule examples"
for example in .semgrep/tests/yanxiu.*; do
    "${SEMGREP[@]}" --test --config .semgrep/yanxiu.yml "$example" || status=1
done

# Untracked files too (--no-git-ignore): a module not yet committed is checked all the same.
echo "static checks: semgrep"
"${SEMGREP[@]}" --error --no-git-ignore --config .semgrep/ yanxiu || status=1

if [ "$status" -ne 0 ]; then
    echo "static checks: FAILED ($((SECONDS - started)) s)" >&2
    exit 1
fi
echo "static checks: passed ($((SECONDS - started)) s)"
