# syntax=docker/dockerfile:1
# runplane in a container: `docker build -t runplane .`, then see compose.yaml and
# docs/operations.md ("Containers"). Linted with hadolint (tests/ops/test_container_files.py);
# no container daemon was available where this was written, so it was not built there.

# -- builder: a virtualenv holding runplane and its dependencies, built from a wheel --------
FROM python:3.12-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
# The dependencies are the ones uv.lock pins, checked against its hashes; then runplane's
# own wheel (the console's templates and static assets are package data: it carries them).
# uv and the build tool stay in the builder's own Python: the venv gets none of them.
RUN pip install uv==0.13.9 build==1.2.2 \
 && uv export --frozen --no-dev --no-emit-project --format requirements-txt -o /tmp/requirements.txt \
 && /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.txt \
 && python -m build --wheel --outdir /dist . \
 && /opt/venv/bin/pip install --no-deps /dist/*.whl

# -- runtime: the venv and the example project, run as an unprivileged user ----------------
FROM python:3.12-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RUNPLANE_HOST=0.0.0.0 \
    RUNPLANE_PORT=8000 \
    RUNPLANE_PROJECT=/app/runplane.toml

RUN groupadd --system --gid 10001 runplane \
 && useradd --system --uid 10001 --gid runplane --home-dir /app --shell /usr/sbin/nologin runplane

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The project runplane.toml names (the example agents, tools and graphs); mount your own
# over /app (or set RUNPLANE_PROJECT) to serve yours.
COPY --chown=runplane:runplane runplane.toml ./
COPY --chown=runplane:runplane examples ./examples
COPY --chown=runplane:runplane bench/peer/graphs.py ./bench/peer/graphs.py
RUN mkdir -p /app/.runplane && chown runplane:runplane /app/.runplane

USER 10001:10001
EXPOSE 8000

# /healthz answers while the process is up; python is the only HTTP client in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

# Binds 0.0.0.0 (RUNPLANE_HOST above) in the container only; outside it the default stays
# 127.0.0.1.
ENTRYPOINT ["runplane"]
CMD ["serve"]
