#!/usr/bin/env bats
# bk-dump against a real PostgreSQL 15 server (t/pgserver.sh, one per file):
# round trips of every format with pgbench data and a schema of many types,
# large objects, sequences, views and functions; --all, --globals and a
# --physical backup started as a second cluster; the failure cases (server
# gone mid-dump, wrong password, missing database, old pg_dump, killed
# pg_dump) and the seal seen by a downstream bk-gz.

load helper

# --- the server ----------------------------------------------------------

setup_file() {
	local env
	PGDIR=$(mktemp -d /tmp/bk-dump-t.XXXXXX)
	chmod 755 "$PGDIR"	# the server's user must reach $PGDIR/srv
	export PGDIR
	env=$("$BK_ROOT/t/pgserver.sh" start "$PGDIR/srv") || return 1
	# shellcheck disable=SC1090
	. "$env"
	export PGHOST PGPORT PGUSER PGDATABASE BK_PG_BINDIR BK_PG_DATA BK_PG_LOG
	export PGCONNECT_TIMEOUT=10
	PGOWNER=$(stat -c %U "$BK_PG_DATA")
	export PGOWNER
	export SUMS_SQL=$PGDIR/sums.sql
	write_sums_sql > "$SUMS_SQL"

	createdb src || return 1
	"$BK_PG_BINDIR/pgbench" -i -s 1 -q src > /dev/null 2>&1 || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d src -f - > /dev/null <<-'EOF' || return 1
	CREATE SCHEMA app;
	CREATE TABLE app.typed (
		id serial PRIMARY KEY,
		n numeric(20, 6), j jsonb, a int[], ta text[], b bytea,
		ts timestamptz, t text, u uuid, r int4range, f float8,
		bo boolean, i interval, d date
	);
	INSERT INTO app.typed (n, j, a, ta, b, ts, t, u, r, f, bo, i, d)
	SELECT g * 1.000001 + 0.5,
	    jsonb_build_object('k', g, 'arr', jsonb_build_array(g, 'x', null),
		'nested', jsonb_build_object('ü', 'ß')),
	    ARRAY[g, g + 1, NULL], ARRAY['a''b', 'c"d', NULL, 'é'],
	    decode(md5(g::text), 'hex') || '\x00ff'::bytea,
	    timestamptz '2020-01-01 00:00:00+00' + g * interval '1 hour 1 second',
	    'ünïcødé 🐘 ' || g || E' tab\t nl\n quote'' back\\',
	    md5(g::text)::uuid, int4range(g, g + 10), g / 7.0::float8,
	    g % 2 = 0, g * interval '1 minute', date '2000-01-01' + g
	FROM generate_series(1, 2000) g;
	INSERT INTO app.typed (n) VALUES (NULL);
	CREATE SEQUENCE app.counter START 100 INCREMENT 7;
	SELECT nextval('app.counter'), nextval('app.counter');
	CREATE VIEW app.even AS SELECT id, t FROM app.typed WHERE bo;
	CREATE MATERIALIZED VIEW app.summary AS
	    SELECT count(*) AS n, sum(n) AS total FROM app.typed;
	CREATE FUNCTION app.double(x int) RETURNS int LANGUAGE sql IMMUTABLE
	    AS $$ SELECT x * 2 $$;
	CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql
	    AS $$ BEGIN NEW.t := NEW.t || '!'; RETURN NEW; END $$;
	CREATE TRIGGER typed_touch BEFORE INSERT ON app.typed
	    FOR EACH ROW EXECUTE FUNCTION app.touch();
	SELECT lo_from_bytea(0, convert_to(repeat('large object ' || g, 1000),
	    'UTF8')) FROM generate_series(1, 5) g;
	-- hard to compress: keeps a pipeline busy long enough to break it
	CREATE TABLE noise AS SELECT g AS id,
	    repeat(md5(g::text || random()::text), 8) AS junk
	FROM generate_series(1, 20000) g;
	-- a role with a password (scram) for the authentication tests
	CREATE ROLE pwuser LOGIN SUPERUSER PASSWORD 'right-pw';
	EOF
	sums src > "$PGDIR/src.sums" || return 1
	# pwuser must give its password, locally and over TCP
	{
		printf 'local all pwuser scram-sha-256\n'
		printf 'host all pwuser 127.0.0.1/32 scram-sha-256\n'
		printf 'host replication pwuser 127.0.0.1/32 scram-sha-256\n'
		cat "$BK_PG_DATA/pg_hba.conf"
	} > "$PGDIR/hba" && cat "$PGDIR/hba" > "$BK_PG_DATA/pg_hba.conf" &&
	    psql -X -q -c 'SELECT pg_reload_conf()' > /dev/null
}

teardown_file() {
	if [ -n "${PGDIR:-}" ]; then
		stop_cluster "$PGDIR/restored"
		"$BK_ROOT/t/pgserver.sh" stop "$PGDIR/gone1" || true
		"$BK_ROOT/t/pgserver.sh" stop "$PGDIR/gone2" || true
		"$BK_ROOT/t/pgserver.sh" stop "$PGDIR/srv" || true
		rm -rf "$PGDIR"
	fi
}

# The checksums of a database: every table, view and materialized view
# (row count and md5 of its ordered rows), every sequence's state, the
# large objects and the function definitions.
write_sums_sql() {
	cat <<-'EOF'
	SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(x::text, '
	    'E''\n'' ORDER BY x::text), '''')) FROM %s x', c.oid::regclass,
	    c.oid::regclass)
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p', 'v', 'm')
	    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	    AND n.nspname NOT LIKE 'pg_toast%'
	ORDER BY 1 \gexec
	SELECT format('SELECT %L, last_value, is_called FROM %s',
	    c.oid::regclass, c.oid::regclass)
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind = 'S'
	    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	ORDER BY 1 \gexec
	SELECT 'large objects', count(*), md5(coalesce(string_agg(oid::text
	    || ':' || md5(lo_get(oid)), ',' ORDER BY oid), ''))
	FROM pg_largeobject_metadata;
	SELECT 'functions', count(*), md5(coalesce(string_agg(
	    pg_get_functiondef(p.oid), E'\n' ORDER BY p.oid::regprocedure::text),
	    ''))
	FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema');
	EOF
}

# sums DB: the checksums of DB (psql options may follow).
sums() {
	local db=$1
	shift
	psql -X -At -v ON_ERROR_STOP=1 "$@" -d "$db" -f "$SUMS_SQL"
}

# same_as_src DB [PSQL OPTS]: DB has exactly src's data.
same_as_src() {
	sums "$@" > "$T/got.sums" || fail "checksums of $1 failed" || return 1
	[ "$(wc -l < "$T/got.sums")" -ge 8 ] ||
	    fail "too few checksums: $(cat "$T/got.sums")" || return 1
	diff "$PGDIR/src.sums" "$T/got.sums" >&2 ||
	    fail "$1 differs from src (diff above)"
}

# as_owner CMD...: run CMD as the user the server runs as.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u "$PGOWNER" -- "$@")
	else
		(cd / && "$@")
	fi
}

# stop_cluster DATADIR: stop a cluster we started from a backup.
stop_cluster() {
	[ -f "$1/postmaster.pid" ] || return 0
	as_owner "$BK_PG_BINDIR/pg_ctl" stop -m immediate -w -D "$1" \
	    > /dev/null 2>&1 || true
}

# --- running ----------------------------------------------------------------

# dump FILE ARGS...: bk-dump ARGS > FILE; sets $status and $err.
dump() {
	local f=$1
	shift
	status=0
	bk-dump "$@" > "$f" 2> "$T/stderr" < /dev/null || status=$?
	err=$(cat "$T/stderr")
}

# dump_ok FILE ARGS...: as dump, and it must exit 0 and print nothing.
dump_ok() {
	dump "$@"
	[ "$status" -eq 0 ] || fail "bk-dump ${*:2}: exit $status: $err" ||
	    return 1
	[ -z "$err" ] || fail "bk-dump ${*:2}: stderr: $err"
}

# expect_fail N RE: exit status N and one "bk-dump: " line matching RE.
expect_fail() {
	[ "$status" -eq "$1" ] ||
	    fail "exit status $status, expected $1; stderr: $err" || return 1
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] ||
	    fail "expected one line on stderr, got: $err" || return 1
	case $err in
	"bk-dump: "?*) ;;
	*) fail "'$err' does not start with 'bk-dump: '"; return 1 ;;
	esac
	printf '%s\n' "$err" | grep -Eq -- "$2" ||
	    fail "message '$err' does not match /$2/"
}

# piped_to_gz ARGS...: bk-dump ARGS | bk-gz > $T/p.gz; sets $ps (statuses),
# $err (bk-dump's stderr) and $gzerr.
piped_to_gz() {
	{
		bk-dump "$@" 2> "$T/e1" < /dev/null | bk-gz > "$T/p.gz" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	err=$(cat "$T/e1")
	gzerr=$(cat "$T/e2")
}

# expect_broken_seal: bk-gz downstream exited 4, said so, and its output
# is not a complete gzip stream.
expect_broken_seal() {
	[ "${ps[1]}" -eq 4 ] ||
	    fail "bk-gz exit ${ps[1]}, expected 4 (broken seal): $gzerr" ||
	    return 1
	printf '%s\n' "$gzerr" | grep -q '^bk-gz: .*upstream' ||
	    fail "bk-gz does not blame the upstream: $gzerr" || return 1
	! gzip -t < "$T/p.gz" 2> /dev/null ||
	    fail "bk-gz wrote a complete gzip stream after a failed bk-dump"
}

# stalled_chain CMD: run "CMD | bk-gz | reader" in the background, where
# the reader takes nothing until $T/go exists, so that CMD is stuck
# mid-stream; statuses end up in $T/st, stderr in $T/e1 and $T/e2.
stalled_chain() {
	rm -f "$T/go" "$T/st"
	timeout 120 bash -c "$1"' 2> "$T/e1" < /dev/null | bk-gz 2> "$T/e2" |
	    { while [ ! -e "$T/go" ]; do sleep 0.05; done; cat > "$T/p.gz"; }
	    echo "${PIPESTATUS[*]}" > "$T/st"' 3>&- &
	chain=$!
	track "$chain"
}

# finish_chain: let the reader go and wait; sets $ps, $err, $gzerr.
finish_chain() {
	touch "$T/go"
	wait "$chain" || true
	[ -s "$T/st" ] || fail "the pipeline hung or died" || return 1
	read -r -a ps < "$T/st"
	status=${ps[0]}
	err=$(cat "$T/e1")
	gzerr=$(cat "$T/e2")
}

# pid_of NAME: the pid savepid wrote to $T/NAME.pid.
pid_of() {
	wait_for 30 test -s "$T/$1.pid" || return 1
	cat "$T/$1.pid"
}

# child_pg_dump PID: the pg_dump run by bk-dump PID, once it exists.
child_pg_dump() {
	local c
	wait_for 30 pgrep -P "$1" -x pg_dump > /dev/null || return 1
	c=$(pgrep -P "$1" -x pg_dump)
	echo "$c"
}

# --- round trips ----------------------------------------------------------

@test "custom format: the row chunks gathered; pg_restore reads the same archive as pg_dump's" {
	dump_ok "$T/bk.dump" src
	"$BK_PG_BINDIR/pg_dump" -Fc -Z0 -d src | cat > "$T/pg.dump"
	# the same SQL out of pg_restore, data and large objects included
	pg_restore --restrict-key=k -f "$T/bk.sql" "$T/bk.dump" || fail "pg_restore of bk-dump's"
	pg_restore --restrict-key=k -f "$T/pg.sql" "$T/pg.dump" || fail "pg_restore of pg_dump's"
	diff -q "$T/pg.sql" "$T/bk.sql" > /dev/null ||
	    fail "pg_restore output differs: $(diff "$T/pg.sql" "$T/bk.sql" | head -n 5)"
	grep -q 'lo_open' "$T/bk.sql" || fail "no large objects in the test"
	# without a length word per row it is shorter, and still checks out
	[ "$(fsize "$T/bk.dump")" -lt "$(fsize "$T/pg.dump")" ] ||
	    fail "not shorter: $(fsize "$T/bk.dump") vs $(fsize "$T/pg.dump")"
	bk-verify < "$T/bk.dump" > "$T/v" || fail "bk-verify: $(cat "$T/v")"
}

@test "custom format (default): restore with pg_restore gives the same data" {
	dump_ok "$T/src.dump" src
	pg_restore -l "$T/src.dump" > "$T/toc" || fail "pg_restore -l failed"
	grep -q 'Format: CUSTOM' "$T/toc" || fail "not custom format: $(head -n 12 "$T/toc")"
	grep -q 'Compression: 0' "$T/toc" ||
	    fail "custom dump is compressed (compression is bk-gz's job)"
	grep -q 'BLOBS' "$T/toc" || fail "no large objects in the dump"
	createdb r_custom
	pg_restore --exit-on-error -d r_custom "$T/src.dump" ||
	    fail "pg_restore failed"
	same_as_src r_custom
	[ "$(psql -X -At -d r_custom -c 'SELECT app.double(21)')" = 42 ] ||
	    fail "function app.double does not work after restore"
	dropdb r_custom
}

@test "plain format: restore with psql gives the same data" {
	dump_ok "$T/src.sql" --format plain src
	grep -q '^-- PostgreSQL database dump' "$T/src.sql" || fail "not SQL"
	createdb r_plain
	psql -X -q -v ON_ERROR_STOP=1 -d r_plain -f "$T/src.sql" > /dev/null ||
	    fail "psql restore failed"
	same_as_src r_plain
	dropdb r_plain
}

@test "tar format: a tar that pg_restore restores to the same data" {
	dump_ok "$T/src.tar" --format tar src
	tar -tf "$T/src.tar" | grep -qx toc.dat || fail "no toc.dat in the tar"
	createdb r_tar
	pg_restore --exit-on-error -d r_tar "$T/src.tar" || fail "pg_restore failed"
	same_as_src r_tar
	dropdb r_tar
}

@test "selection: -t, -n, -T, -N and their long forms reach pg_dump" {
	dump_ok "$T/t.sql" --format=plain -t pgbench_branches src
	grep -q 'CREATE TABLE public.pgbench_branches' "$T/t.sql" || fail "-t: table missing"
	! grep -q 'CREATE TABLE public.pgbench_accounts' "$T/t.sql" || fail "-t: other table dumped"
	dump_ok "$T/n.sql" --format plain --schema app src
	grep -q 'CREATE TABLE app.typed' "$T/n.sql" || fail "-n: schema missing"
	! grep -q 'pgbench' "$T/n.sql" || fail "-n: public dumped"
	dump_ok "$T/tn.sql" --format plain -T pgbench_history --exclude-table 'noise' -N app src
	grep -q 'CREATE TABLE public.pgbench_accounts' "$T/tn.sql" || fail "-T: kept table missing"
	! grep -Eq 'CREATE TABLE (public.pgbench_history|public.noise|app\.)' "$T/tn.sql" ||
	    fail "-T/-N: excluded objects dumped"
	dump_ok "$T/x.dump" --table pgbench_tellers --exclude-schema app src
	pg_restore -l "$T/x.dump" | grep -q 'TABLE public pgbench_tellers' ||
	    fail "--table in custom format"
}

@test "the default pg_dump is found without BK_PG_BINDIR, conninfo and URI work" {
	unset BK_PG_BINDIR
	dump "$T/a.dump" -v "host=$PGHOST port=$PGPORT dbname=src"
	[ "$status" -eq 0 ] || fail "conninfo: exit $status: $err"
	pg_restore -l "$T/a.dump" | grep -q 'dbname: src' || fail "conninfo dumped another database"
	printf '%s\n' "$err" | grep -q "/usr/lib/postgresql/15/bin/pg_dump 15" ||
	    [ ! -x /usr/lib/postgresql/15/bin/pg_dump ] ||
	    fail "-v does not name the server-matched pg_dump: $err"
	dump "$T/b.dump" "postgresql://$PGUSER@127.0.0.1:$PGPORT/src?application_name=x"
	[ "$status" -eq 0 ] || fail "URI: exit $status: $err"
	pg_restore -l "$T/b.dump" | grep -q 'dbname: src' || fail "URI dumped another database"
}

@test "--all: one tar of globals and every database, restored with tar, psql and pg_restore" {
	createdb a1
	psql -X -q -v ON_ERROR_STOP=1 -d a1 -c "CREATE ROLE alice NOLOGIN;
	    CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, 'ä' || g
	    FROM generate_series(1, 500) g; ALTER TABLE t OWNER TO alice;
	    CREATE SEQUENCE s; SELECT nextval('s');" > /dev/null
	createdb 'odd/name'
	sums a1 > "$T/a1.before"
	dump_ok "$T/all.tar" --all
	tar -tf "$T/all.tar" > "$T/list" || fail "tar -t failed"
	for m in globals.sql template1.dump postgres.dump src.dump a1.dump 'odd%2Fname.dump'; do
		grep -qxF "$m" "$T/list" || fail "$m missing from: $(cat "$T/list")"
	done
	! grep -q template0 "$T/list" || fail "template0 was dumped"
	mkdir "$T/x" && tar -xf "$T/all.tar" -C "$T/x" || fail "tar -x failed"
	for f in "$T"/x/*.dump; do
		pg_restore -l "$f" > /dev/null || fail "$f is not a custom dump"
	done
	grep -q 'CREATE ROLE alice' "$T/x/globals.sql" || fail "globals lack alice"
	# disaster: lose a1 and alice, then restore them with stock tools
	dropdb a1
	dropdb 'odd/name'
	psql -X -q -c 'DROP ROLE alice'
	psql -X -q -d postgres -f "$T/x/globals.sql" > /dev/null 2>&1 || true
	pg_restore --exit-on-error -C -d postgres "$T/x/a1.dump" || fail "pg_restore -C a1 failed"
	pg_restore --exit-on-error -C -d postgres "$T/x/odd%2Fname.dump" ||
	    fail "pg_restore -C odd/name failed"
	sums a1 > "$T/a1.after"
	diff "$T/a1.before" "$T/a1.after" >&2 || fail "a1 differs after restore"
	[ "$(psql -X -At -d a1 -c "SELECT tableowner FROM pg_tables WHERE tablename = 't'")" = alice ] ||
	    fail "owner not restored"
	createdb r_all
	pg_restore --exit-on-error -d r_all "$T/x/src.dump" || fail "pg_restore src failed"
	same_as_src r_all
	dropdb r_all
	dropdb a1
	dropdb 'odd/name'
	psql -X -q -c 'DROP ROLE alice'
}

@test "--globals: roles and tablespaces, as pg_dumpall -g writes them" {
	dump_ok "$T/g.sql" --globals
	grep -q 'CREATE ROLE pwuser' "$T/g.sql" || fail "no pwuser role"
	! grep -q 'CREATE TABLE' "$T/g.sql" || fail "tables in the globals"
	pg_dumpall -g | grep -Ev '^\\(un)?restrict ' > "$T/want"
	grep -Ev '^\\(un)?restrict ' "$T/g.sql" > "$T/got"
	diff "$T/want" "$T/got" >&2 || fail "differs from pg_dumpall -g"
}

# --- physical ---------------------------------------------------------------

@test "--physical: one tar with data, WAL and manifest; a second cluster starts from it" {
	local port dir=$PGDIR/restored
	dump "$T/base.tar" --physical --checkpoint fast --progress=always
	[ "$status" -eq 0 ] || fail "exit $status: $err"
	printf '%s\n' "$err" | tail -n 1 | grep -Eq '^bk-dump: .* / .*%.*ETA' ||
	    fail "no progress with a percentage and ETA: $err"
	tar -tf "$T/base.tar" > "$T/list" 2> "$T/tarerr" || fail "tar -t: $(cat "$T/tarerr")"
	[ ! -s "$T/tarerr" ] || fail "tar warns: $(cat "$T/tarerr")"
	for m in backup_label global/pg_control PG_VERSION base/; do
		grep -qxF "$m" "$T/list" || fail "$m missing"
	done
	grep -Eq '^pg_wal/[0-9A-F]{24}$' "$T/list" || fail "no WAL segment in the tar"
	# the server's end-of-archive blocks are gone: tar reads on to the manifest
	[ "$(tail -n 1 "$T/list")" = backup_manifest ] ||
	    fail "backup_manifest is not the last member: $(tail -n 3 "$T/list")"
	[ "$(grep -c . "$T/list")" -eq "$(sort -u "$T/list" | grep -c .)" ] ||
	    fail "duplicate members"

	mkdir -m 700 "$dir"
	tar -xf "$T/base.tar" -C "$dir" || fail "tar -x failed"
	[ "$(id -u)" -ne 0 ] || chown -R "$PGOWNER:" "$dir"
	as_owner "$BK_PG_BINDIR/pg_verifybackup" -q "$dir" ||
	    fail "pg_verifybackup refuses the extracted backup"
	port=$((PGPORT + 1))
	mkdir -p "$dir/sock"
	[ "$(id -u)" -ne 0 ] || chown "$PGOWNER:" "$dir/sock"
	cat > "$dir/pgserver.conf" <<-EOF
	listen_addresses = ''
	port = $port
	unix_socket_directories = '$dir/sock'
	EOF
	[ "$(id -u)" -ne 0 ] || chown "$PGOWNER:" "$dir/pgserver.conf"
	: > "$PGDIR/restored.log"
	[ "$(id -u)" -ne 0 ] || chown "$PGOWNER:" "$PGDIR/restored.log"
	as_owner "$BK_PG_BINDIR/pg_ctl" start -w -t 60 -D "$dir" -l "$PGDIR/restored.log" \
	    > /dev/null || fail "the restored cluster does not start: $(tail -n 3 "$PGDIR/restored.log")"
	same_as_src src -h "$dir/sock" -p "$port"
	[ "$(psql -X -At -h "$dir/sock" -p "$port" -d src -c 'SELECT app.double(4)')" = 8 ] ||
	    fail "the restored cluster does not answer"
	stop_cluster "$dir"
	rm -rf "$dir"
}

@test "--physical --checkpoint spread works; -P without a terminal draws nothing" {
	dump_ok "$T/base.tar" --physical --checkpoint=spread -P
	tar -tf "$T/base.tar" | tail -n 1 | grep -qx backup_manifest ||
	    fail "no manifest at the end"
}

@test "--physical refuses a cluster with an extra tablespace (nothing written)" {
	local ts
	ts=$(mktemp -d /tmp/bk-dump-ts.XXXXXX)
	[ "$(id -u)" -ne 0 ] || chown "$PGOWNER:" "$ts"
	psql -X -q -c "CREATE TABLESPACE extra LOCATION '$ts'"
	dump "$T/base.tar" --physical --checkpoint fast
	psql -X -q -c "DROP TABLESPACE extra"
	rm -rf "$ts"
	expect_fail 3 'tablespace.*/tmp/bk-dump-ts.*refusing'
	expect_empty "$T/base.tar" "stdout"
}

# --- failures -------------------------------------------------------------

@test "a password on the command line is refused (exit 2), before connecting" {
	local c
	for c in "host=$PGHOST dbname=src password=secret" \
	    "postgresql://postgres:secret@127.0.0.1:$PGPORT/src" \
	    "postgresql://postgres@127.0.0.1:$PGPORT/src?password=secret"; do
		for m in "" --physical --all --globals; do
			dump "$T/out" $m "$c"
			expect_fail 2 'refusing a password on the command line.*PGPASSWORD' || return 1
			printf '%s\n' "$err" | grep -qv secret || fail "the password is echoed"
			expect_empty "$T/out" "stdout"
		done
	done
}

@test "wrong password (PGPASSWORD or .pgpass): exit 3, clear message; the right one works" {
	local c="host=127.0.0.1 port=$PGPORT user=pwuser dbname=src"
	PGPASSWORD=wrong dump "$T/out" "$c"
	expect_fail 3 'password authentication failed for user "pwuser"'
	expect_empty "$T/out" "stdout"
	printf '127.0.0.1:%s:*:pwuser:wrong\n' "$PGPORT" > "$T/pgpass"
	chmod 600 "$T/pgpass"
	PGPASSFILE=$T/pgpass dump "$T/out" "$c"
	expect_fail 3 'password authentication failed for user "pwuser"'
	PGPASSFILE=$T/pgpass dump "$T/out" --physical "$c"
	expect_fail 3 'password authentication failed for user "pwuser"'
	# the right password reaches pg_dump too, never on its argv
	mkdir "$T/wrap"
	cat > "$T/wrap/pg_dump" <<-EOF
	#!/bin/sh
	[ "\$1" = --version ] || printf '%s\n' "\$@" >> "$T/argv"
	exec "$BK_PG_BINDIR/pg_dump" "\$@"
	EOF
	chmod +x "$T/wrap/pg_dump"
	printf '127.0.0.1:%s:*:pwuser:right-pw\n' "$PGPORT" > "$T/pgpass"
	PGPASSFILE=$T/pgpass BK_PG_BINDIR=$T/wrap dump_ok "$T/out" "$c"
	pg_restore -l "$T/out" > /dev/null || fail "not a dump"
	PGPASSWORD=right-pw BK_PG_BINDIR=$T/wrap dump_ok "$T/out2" -t noise "$c"
	[ -s "$T/argv" ] || fail "the wrapper did not run"
	! grep -q right-pw "$T/argv" || fail "the password is on pg_dump's argv"
	PGPASSWORD=right-pw dump_ok "$T/base.tar" --physical "$c"
}

@test "missing database: exit 3 with the server's message; bk-gz downstream exits 4" {
	dump "$T/out" nosuchdb
	expect_fail 3 'connect: .*database "nosuchdb" does not exist'
	expect_empty "$T/out" "stdout"
	piped_to_gz nosuchdb
	[ "${ps[0]}" -eq 3 ] || fail "bk-dump exit ${ps[0]}"
	expect_broken_seal
}

@test "no server there: exit 3 with libpq's reason on one line" {
	PGHOST=127.0.0.1 PGPORT=1 dump "$T/out" src
	expect_fail 3 'connect: .*(refused|failed)'
	PGHOST=127.0.0.1 PGPORT=1 dump "$T/out" --physical
	expect_fail 3 'connect: '
}

@test "a pg_dump older than the server is refused, naming both versions" {
	mkdir "$T/old"
	cat > "$T/old/pg_dump" <<-EOF
	#!/bin/sh
	[ "\$1" = --version ] && { echo 'pg_dump (PostgreSQL) 13.11'; exit 0; }
	touch "$T/ran"
	EOF
	chmod +x "$T/old/pg_dump"
	BK_PG_BINDIR=$T/old dump "$T/out" src
	expect_fail 3 'pg_dump 13\.11 .* older than the server \(PostgreSQL 15\.[0-9]+\)'
	[ ! -e "$T/ran" ] || fail "the old pg_dump was run to dump"
	expect_empty "$T/out" "stdout"
	BK_PG_BINDIR=$T/old piped_to_gz src
	[ "${ps[0]}" -eq 3 ] || fail "bk-dump exit ${ps[0]}"
	expect_broken_seal
	BK_PG_BINDIR=$T/nowhere dump "$T/out" src
	expect_fail 3 'BK_PG_BINDIR=.*nowhere: no pg_dump there'
}

@test "a killed pg_dump: bk-dump exits 3 naming the signal, bk-gz exits 4" {
	local bk pd
	stalled_chain '"$FIX/savepid" "$T/dump.pid" bk-dump src'
	bk=$(pid_of dump)
	pd=$(child_pg_dump "$bk")
	wait_for 30 proc_io_at_least "$pd" wchar 131072
	kill -9 "$pd"
	finish_chain
	[ "${ps[0]}" -eq 3 ] || fail "bk-dump exit ${ps[0]}: $err"
	expect_fail 3 'pg_dump killed by signal 9'
	expect_broken_seal
}

@test "SIGTERM to bk-dump is passed on to pg_dump: exit 3 saying so, bk-gz exits 4" {
	local bk pd
	stalled_chain '"$FIX/savepid" "$T/dump.pid" bk-dump src'
	bk=$(pid_of dump)
	pd=$(child_pg_dump "$bk")
	wait_for 30 proc_io_at_least "$pd" wchar 131072
	kill -TERM "$bk"
	sleep 0.2
	finish_chain
	expect_fail 3 'stopped by signal 15 \(Terminated\): pg_dump'
	expect_broken_seal
	! kill -0 "$pd" 2> /dev/null || fail "pg_dump is still running"
}

@test "output fails (stdout is /dev/full): exit 3 with the reason, ours or pg_dump's" {
	# plain: pg_dump writes to stdout itself
	status=0
	bk-dump --format plain src > /dev/full 2> "$T/stderr" || status=$?
	err=$(cat "$T/stderr")
	expect_fail 3 'pg_dump failed \(exit 1\): .*(No space left|could not write)'
	# custom: bk-dump writes what pg_dump wrote, its chunks gathered
	status=0
	bk-dump src > /dev/full 2> "$T/stderr" || status=$?
	err=$(cat "$T/stderr")
	expect_fail 3 'write output: No space left on device'
	status=0
	bk-dump --physical > /dev/full 2> "$T/stderr" || status=$?
	err=$(cat "$T/stderr")
	expect_fail 3 'write output: No space left on device'
}

@test "a reader that goes away (EPIPE): exit 3, quietly" {
	for m in "" --physical; do
		{
			bk-dump $m src 2> "$T/e1" | head -c 1000 > /dev/null
			ps=("${PIPESTATUS[@]}")
		} || true
		[ "${ps[0]}" -eq 3 ] || fail "bk-dump $m exit ${ps[0]}, expected 3"
		expect_empty "$T/e1" "stderr of bk-dump $m"
	done
}

# A server of its own, stopped while a dump of it is stuck mid-stream.
gone_server() {
	local env
	env=$("$BK_ROOT/t/pgserver.sh" start "$PGDIR/$1") || return 1
	# shellcheck disable=SC1090
	. "$env"
	psql -X -q -c "CREATE TABLE noise AS SELECT g AS id,
	    repeat(md5(g::text || random()::text), 8) AS junk
	    FROM generate_series(1, 40000) g" || return 1
}

@test "server stopped in the middle of a logical dump: exit 3, bk-gz exits 4" {
	local bk pd
	gone_server gone1
	stalled_chain '"$FIX/savepid" "$T/dump.pid" bk-dump'
	bk=$(pid_of dump)
	pd=$(child_pg_dump "$bk")
	wait_for 30 proc_io_at_least "$pd" wchar 131072
	"$BK_ROOT/t/pgserver.sh" stop "$PGDIR/gone1"
	finish_chain
	expect_fail 3 'pg_dump failed \(exit 1\): .*(server closed the connection|terminating connection)'
	expect_broken_seal
}

@test "server stopped in the middle of a physical backup: exit 3, bk-gz exits 4" {
	local bk
	gone_server gone2
	stalled_chain '"$FIX/savepid" "$T/dump.pid" bk-dump --physical --checkpoint fast'
	bk=$(pid_of dump)
	wait_for 30 proc_io_at_least "$bk" wchar 131072
	"$BK_ROOT/t/pgserver.sh" stop "$PGDIR/gone2"
	finish_chain
	expect_fail 3 'base backup: .*(server closed the connection|terminating connection|unexpected|lost)'
	expect_broken_seal
}

# --- the seal, journal, options ----------------------------------------------

@test "sealed chain: bk-dump | bk-gz | bk-gz -d exits 0 0 0, journaled with seal ok" {
	export BK_JOURNAL=$T/journal
	{
		bk-dump src 2> "$T/e1" | bk-gz 2> "$T/e2" | bk-gz -d > "$T/d" 2> "$T/e3"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0 0" "exit statuses"
	expect_empty "$T/e1"
	expect_empty "$T/e2"
	pg_restore -l "$T/d" > /dev/null || fail "not a dump"
	jcheck "$T/journal" --lines 3 --tool bk-dump outcome='"ok"' \
	    exit=0 'bytes_out>=1000000' seal='"ok"' error=null
	jcheck "$T/journal" --tool bk-gz seal='"ok"'
	# a failed dump is journaled as such
	rm -f "$T/journal"
	dump "$T/out" nosuchdb
	jcheck "$T/journal" --lines 1 outcome='"failed"' exit=3 'error~nosuchdb'
}

@test "usage: bad options and combinations give exit 2 and a usage line" {
	local args
	for args in "--bogus" "-x" "a b" "--format zip" "--checkpoint fast" \
	    "--physical --checkpoint slow" "--all --globals" "--physical --all" \
	    "--all -t x" "--globals --format plain" "--physical -n app" "-t" \
	    "--progress=sometimes"; do
		# shellcheck disable=SC2086
		dump "$T/out" $args
		[ "$status" -eq 2 ] || fail "bk-dump $args: exit $status, expected 2" || return 1
		printf '%s\n' "$err" | grep -q '^usage: bk-dump ' ||
		    fail "bk-dump $args: no usage line: $err" || return 1
		printf '%s\n' "$err" | grep -q '^bk-dump: ' ||
		    fail "bk-dump $args: no message: $err" || return 1
		expect_empty "$T/out" "stdout of bk-dump $args" || return 1
	done
}

@test "-h prints usage and exits 0; -V prints the version" {
	run bk-dump -h
	[ "$status" -eq 0 ] && [[ $output == "usage: bk-dump "* ]] || fail "-h: $output"
	run bk-dump --version
	[ "$status" -eq 0 ] && [ "$output" = "bk-dump (bk) 0.1.0" ] || fail "-V: $output"
}

@test "refuses a binary dump to a terminal; plain SQL to a terminal is fine" {
	skip_unless script
	skip_unless timeout
	timeout 30 script -qec 'bk-dump src; echo "status=$?" > "$T/st"' /dev/null \
	    > "$T/tty" 2>&1 < /dev/null || true
	grep -qx 'status=2' "$T/st" || fail "custom to a terminal: $(cat "$T/st"); $(cat -v "$T/tty")"
	grep -q 'bk-dump: refusing' "$T/tty" || fail "no message: $(cat -v "$T/tty")"
	timeout 30 script -qec 'bk-dump --format plain -t pgbench_branches src; echo "status=$?" > "$T/st"' \
	    /dev/null > "$T/tty" 2>&1 < /dev/null || true
	grep -qx 'status=0' "$T/st" || fail "plain to a terminal: $(cat "$T/st")"
	grep -q 'CREATE TABLE public.pgbench_branches' "$T/tty" || fail "no SQL on the terminal"
}

@test "-v: what runs and a summary; -q and the default: nothing; -P always: bytes and rate" {
	dump "$T/out" -v src
	[ "$status" -eq 0 ] || fail "exit $status: $err"
	printf '%s\n' "$err" | grep -q '^bk-dump: server PostgreSQL 15\..*pg_dump 15' ||
	    fail "-v does not say which pg_dump: $err"
	printf '%s\n' "$err" | grep -Eq '^bk-dump: dump of PostgreSQL 15.*MiB in' ||
	    fail "-v has no summary: $err"
	dump_ok "$T/out" -q src
	dump "$T/out" --progress=always src
	printf '%s\n' "$err" | tail -n 1 | grep -Eq '^bk-dump: [0-9.]+ MiB +[0-9.]+ [KMG]?i?B/s' ||
	    fail "no progress line: $err"
}
