#!/usr/bin/env bash
# Makes sure PostgreSQL answers before `make run` / `make test`.
# - DATABASE_URL set: that server must answer; nothing is installed for it.
# - otherwise: the local server on 127.0.0.1:5432 is used; when it is absent
#   it is installed from Debian's packages (apt-get install -y postgresql),
#   configured for passwordless loopback access (a dev/CI machine only) and
#   started.
set -euo pipefail

log() { echo "ensure-postgres: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {
  for _ in $(seq 1 60); do
    if port_open "$1" "$2"; then return 0; fi
    sleep 0.5
  done
  return 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ -n "${DATABASE_URL:-}" ]; then
  hostport=$(sed -E 's#^[a-z]+://([^@/]*@)?([^/?]*).*#\2#' <<<"$DATABASE_URL")
  host=${hostport%%:*}; port=${hostport##*:}
  [ "$port" = "$hostport" ] && port=5432
  [ -z "$host" ] && host=127.0.0.1
  if ! wait_for "$host" "$port"; then
    log "DATABASE_URL points at $host:$port, which does not answer; start that server or unset DATABASE_URL to use a local one"
    exit 1
  fi
  exit 0
fi

if port_open 127.0.0.1 5432; then exit 0; fi

installed_here=0
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  log "no PostgreSQL found; installing it with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  installed_here=1
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba=/etc/postgresql/$version/main/pg_hba.conf
if [ "$installed_here" = 1 ] && ! grep -q "webhooks-dev-trust" "$hba"; then
  # A fresh Debian install asks loopback clients for a password that the
  # postgres role does not have; a dev or CI machine trusts loopback.
  log "allowing passwordless loopback connections in $hba"
  as_root sed -i '1i host all all 127.0.0.1/32 trust # webhooks-dev-trust\nhost all all ::1/128 trust # webhooks-dev-trust' "$hba"
fi

log "starting PostgreSQL $version"
as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
if ! wait_for 127.0.0.1 5432; then
  log "PostgreSQL $version did not start on 127.0.0.1:5432; see /var/log/postgresql/"
  exit 1
fi
