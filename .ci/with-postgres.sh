#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server of its own, then stop it (even on failure).
#
#   .ci/with-postgres.sh pytest -n 2 -q
#
# - Installs PostgreSQL from Debian packages (apt-get) when initdb/pg_ctl are missing;
#   if that fails, this script fails: the PostgreSQL tests are never silently skipped.
# - The server listens on 127.0.0.1 on a free port, keeps its data and socket in a
#   temporary folder, and has its own user, password and database.
# - initdb refuses to run as root, so as root the server runs as the system user
#   `tallyfy-pg` (created when missing); otherwise it runs as the current user.
# - The command gets TALLYFY_TEST_PG_DSN=postgresql://user:password@127.0.0.1:PORT/db
set -euo pipefail

PG_RUN_USER=tallyfy-pg
PG_USER=tallyfy_test
PG_DB=tallyfy_test

log() { echo "with-postgres: $*" >&2; }
die() { echo "with-postgres: ERROR: $*" >&2; exit 1; }

[ "$#" -gt 0 ] || die "usage: $0 COMMAND [ARGS...]"

find_pg_bin() {
    local dir
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    # Debian keeps the server binaries off PATH, one folder per major version: take the newest
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else return 1
    fi
}

install_postgres() {
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL (initdb, pg_ctl) is missing and apt-get is not available: install PostgreSQL"
    log "PostgreSQL is missing: installing the Debian package 'postgresql' (apt-get)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        || die "apt-get update failed (are you root, or is passwordless sudo set up?)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
        || die "apt-get install postgresql failed"
}

PG_BIN=$(find_pg_bin) || { install_postgres; PG_BIN=$(find_pg_bin) || die "PostgreSQL installed but initdb/pg_ctl not found under /usr/lib/postgresql/*/bin"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tallyfy-pg.XXXXXX")
chmod 755 "$WORK"
DATA="$WORK/data"
PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

if [ "$(id -u)" -eq 0 ]; then
    if ! id "$PG_RUN_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_RUN_USER" \
            || die "could not create the system user $PG_RUN_USER to run PostgreSQL (initdb refuses root)"
    fi
    chown "$PG_RUN_USER" "$WORK"
    as_server() { runuser -u "$PG_RUN_USER" -- "$@"; }
else
    as_server() { "$@"; }
fi

stop_server() {
    local status=$?
    if [ -f "$DATA/postmaster.pid" ]; then
        as_server "$PG_BIN/pg_ctl" stop -D "$DATA" -m immediate -s >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

start=$EPOCHREALTIME
printf '%s\n' "$PASSWORD" > "$WORK/pwfile"
chmod 600 "$WORK/pwfile"
if [ "$(id -u)" -eq 0 ]; then chown "$PG_RUN_USER" "$WORK/pwfile"; fi
as_server "$PG_BIN/initdb" -D "$DATA" -U "$PG_USER" --pwfile="$WORK/pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
rm -f "$WORK/pwfile"
# a test server: durability off (the data is thrown away), loopback only, socket in our folder
as_server "$PG_BIN/pg_ctl" start -D "$DATA" -l "$WORK/server.log" -w -t 60 -s \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$WORK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
    || { cat "$WORK/server.log" >&2; die "PostgreSQL did not start"; }
PGPASSWORD="$PASSWORD" "$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$PG_USER" -d postgres -qAt -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE $PG_DB" >/dev/null || die "could not create database $PG_DB"
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') ready on 127.0.0.1:$PORT in $(python3 -c "print(f'{$EPOCHREALTIME - $start:.1f}')")s (data in $DATA)"

export TALLYFY_TEST_PG_DSN="postgresql://$PG_USER:$PASSWORD@127.0.0.1:$PORT/$PG_DB"
"$@"
