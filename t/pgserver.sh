#!/usr/bin/env bash
# pgserver.sh - run a throwaway PostgreSQL server for tests, benchmarks and
# the demo.
#
#   t/pgserver.sh start DIR   initdb a cluster in DIR/data and start it:
#                             127.0.0.1 on a free port, unix socket in
#                             DIR/sock, trust auth (replication too),
#                             wal_level=replica, fsync=off (tests only).
#                             Prints the path of DIR/env, a shell file that
#                             sets PGHOST, PGPORT, PGUSER, PGDATABASE and
#                             BK_PG_BINDIR; nothing else goes to stdout.
#   t/pgserver.sh stop DIR    stop the server (fast) and remove DIR.
#
# Both are idempotent: start on a running cluster only prints the env path,
# stop on a missing DIR does nothing.  As root the server runs as the
# `postgres` system user if there is one, else as `bktest` (created with
# useradd -r); DIR is chowned to it, so its parent must be reachable by
# that user.  BK_PG_BINDIR picks the binaries (default:
# /usr/lib/postgresql/15/bin, else the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

prog=pgserver.sh
# The caller's libpq settings must not steer our initdb/pg_ctl.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGDATA PGSERVICE PGOPTIONS

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	echo "usage: $prog start|stop DIR" >&2
	exit 2
}

# bindir: where initdb, pg_ctl and friends live.
find_bindir() {
	local d
	if [ -n "${BK_PG_BINDIR:-}" ]; then
		[ -x "$BK_PG_BINDIR/pg_ctl" ] ||
		    die "BK_PG_BINDIR=$BK_PG_BINDIR: no pg_ctl there"
		bindir=$BK_PG_BINDIR
		return
	fi
	if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
		bindir=/usr/lib/postgresql/15/bin
		return
	fi
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin \
	    2>/dev/null | sort -V | tail -n 1)
	[ -x "${d:-/nonexistent}/pg_ctl" ] ||
	    die "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (make deps)"
	bindir=$d
}

# runas: the user the server runs as (empty: the caller).
pick_user() {
	runas=
	[ "$(id -u)" -eq 0 ] || return 0
	if id -u postgres >/dev/null 2>&1; then
		runas=postgres
	else
		if ! id -u bktest >/dev/null 2>&1; then
			useradd -r -M -d / -s /usr/sbin/nologin bktest ||
			    die "cannot create user bktest (useradd failed)"
		fi
		runas=bktest
	fi
}

# as CMD...: run a command as the server's user, from a directory it can
# read (the caller's cwd may be /root).
as() {
	if [ -n "$runas" ]; then
		(cd / && runuser -u "$runas" -- "$@")
	else
		(cd / && "$@")
	fi
}

# running: is the cluster in DIR/data up?
running() {
	[ -f "$dir/data/postmaster.pid" ] &&
	    as "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

# port_busy PORT: something accepts connections on 127.0.0.1:PORT.
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# last_error: the most telling line of the server log, for a one-line error.
last_error() {
	local line
	line=$(grep -E 'FATAL|PANIC|ERROR' "$dir/log" 2>/dev/null | tail -n 1 || true)
	[ -n "$line" ] || line=$(tail -n 1 "$dir/log" 2>/dev/null || true)
	printf '%s' "${line#*: }"
}

write_env() {
	{
		echo "# written by t/pgserver.sh; source it: . $dir/env"
		printf 'export PGHOST=%q\n' "$dir/sock"
		printf 'export PGPORT=%q\n' "$1"
		printf 'export PGUSER=%q\n' postgres
		printf 'export PGDATABASE=%q\n' postgres
		printf 'export BK_PG_BINDIR=%q\n' "$bindir"
		printf 'export BK_PG_DATA=%q\n' "$dir/data"
		printf 'export BK_PG_LOG=%q\n' "$dir/log"
	} >"$dir/env.tmp"
	mv -f "$dir/env.tmp" "$dir/env"
}

start() {
	local port sockpath conf

	mkdir -p "$dir" || die "$dir: cannot create directory"
	dir=$(cd "$dir" && pwd -P)
	if [ -e "$dir/data" ] && [ ! -e "$dir/.pgserver" ]; then
		die "$dir: has a data directory not made by $prog; refusing"
	fi
	: >"$dir/.pgserver"

	# A unix socket path is limited to 107 bytes.
	sockpath="$dir/sock/.s.PGSQL.65535"
	[ "${#sockpath}" -le 107 ] ||
	    die "$dir: path too long for a unix socket (${#sockpath} > 107 bytes)"

	if running && [ -f "$dir/env" ]; then
		echo "$dir/env"
		return 0
	fi

	mkdir -p "$dir/sock"
	if [ -n "$runas" ]; then
		chown -R "$runas:" "$dir" || die "$dir: cannot chown to $runas"
		as test -w "$dir" -a -x "$dir" ||
		    die "$dir: not reachable by user $runas (check the parent directories' permissions)"
	fi

	if [ ! -f "$dir/data/PG_VERSION" ]; then
		rm -rf "$dir/data"
		as "$bindir/initdb" -D "$dir/data" -U postgres -A trust \
		    -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
		    die "initdb failed: $(tail -n 1 "$dir/initdb.log")"
		cat >"$dir/data/pg_hba.conf" <<-'EOF'
		# written by t/pgserver.sh: a throwaway test server, trust everywhere
		local	all		all			trust
		local	replication	all			trust
		host	all		all	127.0.0.1/32	trust
		host	replication	all	127.0.0.1/32	trust
		EOF
		echo "include_if_exists = 'pgserver.conf'" >>"$dir/data/postgresql.conf"
		[ -z "$runas" ] || chown "$runas:" "$dir/data/pg_hba.conf"
	fi

	# Pick a free port; another process may grab it between the check and
	# the bind, so a failed start is retried on a new one.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		port_busy "$port" && continue
		conf="$dir/data/pgserver.conf"
		cat >"$conf" <<-EOF
		# written by t/pgserver.sh at each start
		listen_addresses = '127.0.0.1'
		port = $port
		unix_socket_directories = '$dir/sock'
		wal_level = replica
		max_wal_senders = 4
		max_replication_slots = 4
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		timezone = 'UTC'
		log_timezone = 'UTC'
		EOF
		[ -z "$runas" ] || chown "$runas:" "$conf"
		: >"$dir/log"
		[ -z "$runas" ] || chown "$runas:" "$dir/log"
		if as "$bindir/pg_ctl" start -w -t 60 -D "$dir/data" \
		    -l "$dir/log" >/dev/null 2>&1; then
			write_env "$port"
			echo "$dir/env"
			return 0
		fi
		grep -q -e 'could not bind' -e 'could not create any TCP/IP' \
		    "$dir/log" 2>/dev/null || break
	done
	die "server did not start (see $dir/log): $(last_error)"
}

stop() {
	[ -e "$dir" ] || return 0
	dir=$(cd "$dir" && pwd -P)
	if [ ! -e "$dir/.pgserver" ]; then
		# Only ever remove what start made (an empty dir is fine too).
		[ -z "$(ls -A "$dir")" ] ||
		    die "$dir: not made by $prog start; refusing to remove it"
		rmdir "$dir"
		return 0
	fi
	if [ -f "$dir/data/postmaster.pid" ]; then
		# Stop as the owner of the data directory.
		if [ "$(id -u)" -eq 0 ]; then
			runas=$(stat -c %U "$dir/data")
			[ "$runas" != root ] || runas=
		fi
		if running; then
			as "$bindir/pg_ctl" stop -m fast -w -t 60 \
			    -D "$dir/data" >/dev/null 2>&1 ||
			    die "pg_ctl stop failed (see $dir/log)"
		fi
	fi
	rm -rf "$dir" || die "$dir: cannot remove"
}

[ $# -eq 2 ] || usage
[ -n "$2" ] || usage
dir=$2
runas=
find_bindir
case $1 in
start) pick_user; start ;;
stop) stop ;;
*) usage ;;
esac
