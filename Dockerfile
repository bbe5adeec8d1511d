# The gateway's image: built in one stage (a virtual environment with the wheels), run from a
# slim stage as a user without privileges. No secret is baked in: credentials, signing keys and
# webhook secrets come from the environment (LG_* variables) or a mounted configuration file.
# Build: docker build -t logistics-gateway .

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A compiler only for dependencies without a wheel for this platform; not in the final image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /src
COPY --chown=root:root pyproject.toml README.md ./
COPY --chown=root:root domain ./domain
COPY --chown=root:root federation ./federation
COPY --chown=root:root stores ./stores
COPY --chown=root:root system_apis ./system_apis
COPY --chown=root:root process_apis ./process_apis
COPY --chown=root:root resolvers ./resolvers
COPY --chown=root:root policies ./policies
COPY --chown=root:root gateway ./gateway
COPY --chown=root:root sandbox ./sandbox
RUN /opt/venv/bin/pip install --no-compile . \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM python:3.11.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --shell /usr/sbin/nologin gateway \
    && mkdir -p /app/var \
    && chown gateway:gateway /app/var
# The code and its dependencies belong to root: the gateway's user can read them, not change them.
COPY --from=build --chown=root:root /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root supergraph.graphql subgraphs.toml schema.graphql ./
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LG_SERVER__HOST=0.0.0.0 \
    LG_SERVER__PORT=8000
USER gateway:gateway
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
ENTRYPOINT ["logistics-gateway"]
CMD ["run"]
