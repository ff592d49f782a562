# One image for `roster serve`, `roster worker` and every other roster command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The pinned dependencies first, so that a change to Roster's code reuses this layer.
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /data --no-create-home roster \
    && mkdir /data && chown roster /data

USER roster
WORKDIR /data
# SQLite in the volume unless ROSTER_DATABASE_URL names PostgreSQL (compose.yaml does).
ENV ROSTER_HOST=0.0.0.0 \
    ROSTER_PORT=8000 \
    ROSTER_DATABASE_URL=sqlite:////data/roster.db
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["roster"]
CMD ["serve"]
