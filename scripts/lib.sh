# Shared by scripts/run and scripts/test: a virtualenv with the locked dependencies,
# and RabbitMQ + PostgreSQL from the environment, the local machine, or docker compose.

ensure_venv() {
  local py="${PYTHON:-python3}"
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "efacture needs Python 3.11 or newer: install python3.11 (and python3.11-venv)." >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv || { echo "Cannot create a virtualenv: install python3-venv." >&2; exit 1; }
  fi
  local stamp=.venv/.efacture-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -c requirements.lock -e '.[test]'
    touch "$stamp"
  fi
}

port_answers() {  # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

ensure_services() {
  if [ -n "${EFACTURE_AMQP_URL:-}" ] && [ -n "${EFACTURE_DATABASE_URL:-}" ]; then
    return 0
  fi
  if port_answers 127.0.0.1 5672 && port_answers 127.0.0.1 5432; then
    return 0
  fi
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    scripts/compose-secrets >/dev/null  # docker-compose.yml takes every password from .env
    local rabbit_pw pg_pw
    rabbit_pw=$(sed -n 's/^RABBITMQ_PASSWORD=//p' .env)
    pg_pw=$(sed -n 's/^PG_ADMIN_PASSWORD=//p' .env)
    docker compose up -d --wait rabbitmq-1 rabbitmq-2 rabbitmq-3 postgres
    export EFACTURE_AMQP_URL="amqp://efacture:${rabbit_pw}@127.0.0.1:5672/"
    export EFACTURE_DATABASE_URL="postgresql://postgres:${pg_pw}@127.0.0.1:5432/efacture"
    return 0
  fi
  echo "No RabbitMQ and PostgreSQL found: set EFACTURE_AMQP_URL and EFACTURE_DATABASE_URL, or install and start rabbitmq-server and postgresql (apt-get install rabbitmq-server postgresql), or start a Docker engine." >&2
  exit 1
}
