# yanxiu in a container: waitress as a non-root user, SQLite on the /data volume by default
# (or any YANXIU_DATABASE_URL), pending migrations applied on every start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    YANXIU_DATABASE_URL=sqlite:////data/yanxiu.db \
    YANXIU_HOST=0.0.0.0 \
    YANXIU_PORT=8000

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home yanxiu

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
# The app runs from /app (`flask --app app` puts it first on sys.path), where migrations/ is:
# it sits beside the package, not in the wheel. /app stays root-owned (read-only to the app);
# /app/instance is the /data volume, so a generated secret key (YANXIU_SECRET_KEY unset) is kept
# next to the SQLite database.
COPY . .
RUN pip install --no-cache-dir . \
    && rm -rf build *.egg-info \
    && mkdir -p /data \
    && ln -s /data /app/instance \
    && chown yanxiu:yanxiu /data \
    && chmod +x docker/entrypoint.sh

VOLUME /data
USER yanxiu
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('YANXIU_PORT', '8000'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
