# Sourced by scripts/test: a PostgreSQL cluster and a Redis server of the test run's own, on free
# loopback ports, with their files under target/test-services/, stopped when the run ends. They
# replace the system's services so that nothing depends on how those are set up (authentication,
# ports, persistence). PORTCULLIS_TEST_POSTGRES_URL / PORTCULLIS_TEST_REDIS_URL, when set, point
# the tests elsewhere instead and nothing is started.

services_dir="$PWD/target/test-services"
stop_services=()

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_test_services() {
  local i
  for ((i = ${#stop_services[@]} - 1; i >= 0; i--)); do
    eval "${stop_services[$i]}" >/dev/null 2>&1 || true
  done
}

start_own_postgres() {
  local bin dir port run=()
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$bin" ] && [ -x "$bin/initdb" ] \
    || fail "no PostgreSQL server programs under /usr/lib/postgresql/*/bin (scripts/setup installs them)"
  dir="$services_dir/postgres"
  rm -rf "$dir"
  mkdir -p "$dir"
  port="$(free_port)"
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: the cluster belongs to the postgres user.
    id postgres >/dev/null 2>&1 || fail "running as root and there is no postgres user to own a cluster"
    chown -R postgres:postgres "$dir"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; fail "initdb failed"; }
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null || { cat "$dir/server.log"; fail "PostgreSQL did not start"; }
  stop_services+=("${run[*]} $bin/pg_ctl -D $dir/data -m fast stop")
  export PORTCULLIS_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "PostgreSQL of our own: $PORTCULLIS_TEST_POSTGRES_URL (files in $dir)"
}

start_own_redis() {
  local dir port
  command -v redis-server >/dev/null || fail "redis-server is not installed (scripts/setup installs it)"
  dir="$services_dir/redis"
  rm -rf "$dir"
  mkdir -p "$dir"
  port="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  stop_services+=("redis-cli -h 127.0.0.1 -p $port shutdown nosave")
  export PORTCULLIS_TEST_REDIS_URL="redis://127.0.0.1:$port"
  for _ in $(seq 1 50); do
    [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break
    sleep 0.1
  done
  [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] \
    || { cat "$dir/redis.log"; fail "Redis did not start"; }
  echo "Redis of our own: $PORTCULLIS_TEST_REDIS_URL"
}
