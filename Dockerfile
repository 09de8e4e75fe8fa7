# One image for every efacture process: `efacture serve ingest|archive|transmit|metering|pa-sim|tsa`
# (docker-compose.yml picks the command). The project is installed from pyproject.toml, with its
# pinned dependencies and package data (SQL migrations, schemas, the metering tariff).
#
# python:3.11-slim ships the system tzdata that zoneinfo needs for Europe/Paris billing days.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src

# Copy only what the package is built from (not .venv, var/ or tests). README* is a wildcard so
# the build also works before the README exists (pyproject.toml names it; setuptools only warns).
COPY pyproject.toml README* ./
COPY efacture ./efacture
COPY shared ./shared
COPY services ./services
RUN pip install . \
    && rm -rf /src/build /src/*.egg-info

# An unprivileged user (uid 10001) runs every process. In docker-compose.yml no service mounts
# a volume at the data directory (the documents are in S3, the keys are docker secrets); the
# key files made by scripts/compose-secrets are owned by this uid, because compose mounts file
# secrets with their host owner and mode.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/efacture efacture \
    && mkdir -p /var/lib/efacture \
    && chown efacture:efacture /var/lib/efacture

USER efacture
WORKDIR /var/lib/efacture
ENV EFACTURE_DATA_DIR=/var/lib/efacture

CMD ["efacture", "--help"]
