# pmo-bridge: the web service by default; the same image runs `pmo-bridge worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid so mounted volumes can be given to it on the host.
RUN groupadd --system --gid 10001 pmo \
    && useradd --system --uid 10001 --gid pmo --home-dir /var/lib/pmo-bridge --create-home pmo

# Install the package (not editable) and drop the sources: the image runs what pip installed.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config ./config
COPY connector ./connector
COPY rules ./rules
COPY sandbox ./sandbox
COPY demo ./demo
COPY webhooks ./webhooks
RUN pip install . && rm -rf /src

# Embedded defaults write their SQLite store and queue to the working directory.
WORKDIR /var/lib/pmo-bridge
VOLUME ["/var/lib/pmo-bridge"]
USER pmo:pmo

EXPOSE 8080
# Liveness only: readiness (/readyz) depends on the store and queue, which the
# orchestrator checks separately. The slim image has no curl, so Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

CMD ["pmo-bridge", "serve", "--host", "0.0.0.0"]
