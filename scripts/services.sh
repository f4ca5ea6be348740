# Start a throw-away PostgreSQL and Redis on loopback for the tests (sourced).
# Exports HEARTH_TEST_DATABASE_URL and HEARTH_TEST_REDIS_URL; stop_services
# removes everything. Data lives in a temporary directory, fsync off.

start_services() {
    SERVICES_DIR=$(mktemp -d -t hearth-services.XXXXXX)
    chmod 755 "$SERVICES_DIR"
    local bin pg_port redis_port as_pg=()
    bin=$(pg_bin)
    pg_port=$(free_port)
    if [ "$(id -u)" -eq 0 ]; then
        # PostgreSQL refuses to run as root: run it as Debian's postgres user.
        as_pg=(runuser -u postgres --)
        mkdir -p "$SERVICES_DIR/pg" && chown postgres "$SERVICES_DIR/pg"
    fi
    "${as_pg[@]}" "$bin/initdb" -D "$SERVICES_DIR/pg/data" -A trust -U postgres --no-sync >"$SERVICES_DIR/initdb.log" 2>&1 \
        || { cat "$SERVICES_DIR/initdb.log"; return 1; }
    "${as_pg[@]}" "$bin/pg_ctl" -D "$SERVICES_DIR/pg/data" -l "$SERVICES_DIR/pg/server.log" -w -t 60 \
        -o "-p $pg_port -k $SERVICES_DIR/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
        start >/dev/null || { cat "$SERVICES_DIR/pg/server.log"; return 1; }
    export HEARTH_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$SERVICES_DIR/redis.pid" --logfile "$SERVICES_DIR/redis.log"
    for _ in $(seq 50); do
        redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    export HEARTH_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
    echo "==> PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
}

stop_services() {
    [ -n "${SERVICES_DIR:-}" ] || return 0
    local as_pg=()
    [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
    "${as_pg[@]}" "$(pg_bin)/pg_ctl" -D "$SERVICES_DIR/pg/data" -m immediate stop >/dev/null 2>&1 || true
    [ -f "$SERVICES_DIR/redis.pid" ] && kill "$(cat "$SERVICES_DIR/redis.pid")" 2>/dev/null || true
    rm -rf "$SERVICES_DIR"
}
