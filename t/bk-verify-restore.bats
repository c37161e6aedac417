#!/usr/bin/env bats
# bk-verify --restore-test on a throwaway PostgreSQL 15 (t/pgserver.sh):
# custom, plain and tar dumps, raw and through bk-gz | bk-crypt, restore
# into a scratch database that is always dropped; a base backup into a
# temporary server that is always stopped and removed; --check-sql
# catches data the format checks cannot; an unreachable server is "could
# not check"; a signal stops the test and cleans up.

load helper

setup_file() {
	local env
	RDIR=$(mktemp -d /tmp/bk-restore-t.XXXXXX)
	chmod 755 "$RDIR"
	export RDIR
	env=$("$BK_ROOT/t/pgserver.sh" start "$RDIR/srv") || return 1
	# shellcheck disable=SC1090
	. "$env"
	export PGHOST PGPORT PGUSER BK_PG_BINDIR
	export BK_RUNDIR=$RDIR/run
	createdb src || return 1
	"$BK_PG_BINDIR/pgbench" -i -s 1 -q src > /dev/null 2>&1 || return 1
	psql -X -q -d src -c "CREATE TABLE notes (id int, t text);
	    INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 500) g;" ||
	    return 1
	F=$RDIR/fx
	mkdir -p "$F"
	bk-crypt --keygen -o "$F/key" 2> /dev/null
	bk-dump src > "$F/custom" &&
	bk-gz -1 < "$F/custom" > "$F/custom.gz" &&
	bk-dump --format plain src > "$F/plain" &&
	bk-gz < "$F/plain" | bk-crypt -R <(bk-crypt --to-recipient -i "$F/key") \
	    > "$F/plain.gz.age" || return 1
	bk-dump --physical --checkpoint fast | bk-gz -1 |
	    bk-crypt -R <(bk-crypt --to-recipient -i "$F/key") \
	    > "$F/base.gz.age" || return 1
	printf -- '-- the notes are all there\nSELECT count(*) = 500 FROM notes;\n\nSELECT t = %s\n    FROM notes WHERE id = 1;\n' \
	    "'note 1'" > "$F/check.sql"
}

teardown_file() {
	"$BK_ROOT/t/pgserver.sh" stop "$RDIR/srv" || true
	rm -rf "$RDIR"
}

setup() {
	bk_setup
	F=$RDIR/fx
	export BK_RUNDIR=$T/run
	# the temporary servers' dirs: private, and reachable by the
	# postgres user when run as root
	export TMPDIR=$RDIR/tmp.$BATS_TEST_NUMBER
	mkdir -p "$TMPDIR"
	chmod 755 "$TMPDIR"
}

# scratch_left: the bk_verify_* databases on the server.
scratch_left() {
	psql -X -At -d postgres -c \
	    "SELECT datname FROM pg_database WHERE datname LIKE 'bk_verify_%'"
}

# server_left: what is left of temporary servers: their dirs in $TMPDIR,
# their processes.
server_left() {
	ls -A "$TMPDIR"
	pgrep -a -f "$TMPDIR/bk-restore" || true
}

@test "custom, plain and tar, raw and encrypted: restored, checked, dropped" {
	run bk-verify -v --restore-test dbname=postgres --check-sql "$F/check.sql" \
	    < "$F/custom"
	[ "$status" -eq 0 ] || fail "custom: $output"

	[[ $output == *"restore  ok: restored into a scratch database: 5 tables, 100511 rows; 2 check queries true"* ]] ||
	    fail "report: $output"
	run bk-verify -v -i "$F/key" --restore-test dbname=postgres \
	    --check-sql "$F/check.sql" < "$F/plain.gz.age"
	[ "$status" -eq 0 ] || fail "plain.gz.age: $output"

	[[ $output == *"age > gzip > plain"* ]] || fail "layers: $output"
	[[ $output == *"2 check queries true"* ]] || fail "report: $output"
	bk-dump --format tar src > "$T/t.tar"
	run bk-verify -v --restore-test dbname=postgres --check-sql "$F/check.sql" \
	    < "$T/t.tar"
	[ "$status" -eq 0 ] || fail "pg_dump tar: $output"
	[[ $output == *"pg_dump tar"*"2 check queries true"* ]] ||
	    fail "pg_dump tar: $output"
	run bk-verify --json --restore-test dbname=postgres < "$F/custom"
	expect_status 0
	"$PY" -c 'import json,sys; r=json.load(sys.stdin)
assert r["ok"] and "scratch database" in r["restore"], r' <<< "$output" ||
	    fail "--json: $output"
	expect_eq "$(scratch_left)" "" "no scratch database left"
}

@test "data the formats cannot check: a --check-sql query that fails is exit 1" {
	# a changed value in the COPY data of a plain dump is valid SQL
	sed 's/^1\tnote 1$/1\tnote X/' "$F/plain" > "$T/tampered"
	! cmp -s "$T/tampered" "$F/plain" || fail "the tampering did nothing"
	run bk-verify --restore-test dbname=postgres < "$T/tampered"
	expect_status 0
	run bk-verify --restore-test dbname=postgres --check-sql "$F/check.sql" \
	    < "$T/tampered"
	expect_status 1
	[[ $output == *"check query 2 (SELECT t = 'note 1'     FROM notes WHERE id = 1;) is not true"* ]] ||
	    fail "message: $output"
	printf 'SELEC nonsense;\n' > "$T/bad.sql"
	run bk-verify --restore-test dbname=postgres --check-sql "$T/bad.sql" \
	    < "$F/custom"
	expect_status 1
	[[ $output == *"check query 1 (SELEC nonsense;) failed: "* ]] ||
	    fail "message: $output"
	expect_eq "$(scratch_left)" "" "no scratch database left"
}

@test "a backup that does not restore, or a broken one: exit 1, nothing left" {
	# valid as a plain dump, but its SQL fails
	sed '0,/^SET statement_timeout/s//SELECT * FROM no_such_table;\n&/' \
	    "$F/plain" > "$T/failing"
	grep -q no_such_table "$T/failing" || fail "sed did not insert"
	run bk-verify --restore-test dbname=postgres < "$T/failing"
	expect_status 1
	[[ $output == *"restore test: psql: "*"no_such_table"* ]] ||
	    fail "message: $output"
	# a flipped byte in the encrypted stream: the layer check says so
	cp "$F/plain.gz.age" "$T/x"
	flip "$T/x" 5000
	run bk-verify -i "$F/key" --restore-test dbname=postgres < "$T/x"
	expect_status 1
	[[ $output == *"FAIL age"* ]] || fail "message: $output"
	# and in the compressed one, though the restore got its bytes
	cp "$F/custom.gz" "$T/y"
	flip "$T/y" $(($(fsize "$T/y") / 2))
	run bk-verify --restore-test dbname=postgres < "$T/y"
	expect_status 1
	[[ $output == "FAIL gzip > custom"*": gzip: "* ]] ||
	    fail "message: $output"
	expect_eq "$(scratch_left)" "" "no scratch database left"
}

@test "could not check: an unreachable server is exit 3; usage" {
	run bk-verify --restore-test "host=127.0.0.1 port=1 dbname=postgres" \
	    < "$F/custom"
	expect_status 3
	[[ $output == *"restore test: cannot connect"* ]] || fail "$output"

	run bk-verify --check-sql "$F/check.sql" < "$F/custom"
	expect_status 2
	run bk-verify --restore-test postgres --check-sql "$T/nonexistent.sql" \
	    < "$F/custom"
	expect_status 2
	[[ $output == *"nonexistent.sql: No such file"* ]] || fail "$output"
	run bk-verify --restore-test "dbname=postgres password=secret" < "$F/custom"
	expect_status 2
	[[ $output != *secret* ]] || fail "the password is repeated: $output"
	expect_eq "$(scratch_left)" "" "no scratch database left"
}

@test "a physical backup: a temporary server recovers it, the checks run there, nothing is left" {
	run bk-verify -v -i "$F/key" --restore-test dbname=src \
	    --check-sql "$F/check.sql" < "$F/base.gz.age"
	[ "$status" -eq 0 ] || fail "$output"
	[[ $output == *"age > gzip > tar"* ]] || fail "layers: $output"
	[[ $output == *"a temporary server started on the backup and recovered: "*"; 2 check queries true in src"* ]] ||
	    fail "report: $output"
	expect_eq "$(server_left)" "" "nothing left"
	# no server needed: the conninfo (a name will do) names the database
	printf 'SELECT count(*) = 499 FROM notes;\n' > "$T/wrong.sql"
	run bk-verify -i "$F/key" --restore-test src --check-sql "$T/wrong.sql" \
	    < "$F/base.gz.age"
	expect_status 1
	[[ $output == *"check query 1 (SELECT count(*) = 499 FROM notes;) is not true"* ]] ||
	    fail "message: $output"
	expect_eq "$(server_left)" "" "nothing left"
	run bk-verify -i "$F/key" --restore-test nosuchdb --check-sql \
	    "$F/check.sql" < "$F/base.gz.age"
	expect_status 3
	[[ $output == *'the backup has no database "nosuchdb"'* ]] ||
	    fail "message: $output"
	# no server programs of the backup's version: could not test
	mkdir "$T/bin"
	BK_PG_BINDIR=$T/bin run bk-verify -i "$F/key" --restore-test src \
	    < "$F/base.gz.age"
	expect_status 3
	[[ $output == *"the backup is of PostgreSQL 15: its server programs are needed"* ]] ||
	    fail "message: $output"
	expect_eq "$(server_left)" "" "nothing left"
}

@test "a signal stops a restore test at once and cleans up: exit 3" {
	# a logical restore whose writer has sent everything but stays
	{ cat "$F/plain"; echo "$BASHPID" >> "$T/pids"; exec sleep 30; } |
	    { st=0; bk-verify --restore-test dbname=postgres > "$T/out" 2>&1 ||
	      st=$?; echo "$st" > "$T/rc"; } &
	for _ in $(seq 300); do
		[ -n "$(scratch_left)" ] && break
		sleep 0.1
	done
	[ -n "$(scratch_left)" ] || fail "no scratch database made"
	sleep 1
	pid=$(pgrep -P $! -x bk-verify) || fail "bk-verify is not running"
	kill -TERM "$pid"
	# promptly, not waiting for the writer (its sleep is 30 s); the bound
	# is generous for a loaded machine
	for _ in $(seq 250); do
		[ -s "$T/rc" ] && break
		sleep 0.1
	done
	[ -s "$T/rc" ] || fail "still running 25 s after SIGTERM"
	expect_eq "$(cat "$T/rc")" 3 "exit"
	grep -q 'interrupted by signal 15.*cleaned up' "$T/out" ||
	    fail "message: $(cat "$T/out")"
	expect_eq "$(scratch_left)" "" "no scratch database left"
	# a physical one, while its check query runs on the temporary server:
	# cancelled, not waited for
	printf 'SELECT pg_sleep(60) IS NOT NULL;\n' > "$T/slow.sql"
	bk-verify -i "$F/key" --restore-test src --check-sql "$T/slow.sql" \
	    < "$F/base.gz.age" > "$T/out" 2>&1 &
	pid=$!
	for _ in $(seq 600); do
		ls "$TMPDIR"/bk-restore.*/postmaster.pid > /dev/null 2>&1 && break
		sleep 0.1
	done
	[ -n "$(server_left)" ] || fail "no temporary server"
	sleep 2
	SECONDS=0
	# (SIGTERM: SIGHUP and SIGINT may be ignored where the tests run,
	# under nohup or as a background job, and stay ignored)
	kill -TERM "$pid"
	wait "$pid" && fail "exit 0 after SIGTERM" || expect_eq "$?" 3 "exit"
	[ "$SECONDS" -lt 40 ] || fail "$SECONDS s after SIGTERM (pg_sleep is 60)"
	grep -q 'interrupted by signal 15' "$T/out" ||
	    fail "message: $(cat "$T/out")"
	expect_eq "$(server_left)" "" "nothing left"
}

@test "a bk-dump --all archive: every database into a scratch one, the queries in the one named" {
	bk-dump --all | bk-gz -1 > "$T/all.tar.gz"
	run bk-verify -v --restore-test dbname=src --check-sql "$F/check.sql" \
	    < "$T/all.tar.gz"
	[ "$status" -eq 0 ] || fail "$output"
	[[ $output == *"restored "*" databases into scratch databases: "*"; 2 check queries true in src"* ]] ||
	    fail "report: $output"
	printf 'SELECT count(*) = 1 FROM notes;\n' > "$T/wrong.sql"
	run bk-verify --restore-test dbname=src --check-sql "$T/wrong.sql" \
	    < "$T/all.tar.gz"
	expect_status 1
	run bk-verify --restore-test dbname=nosuch --check-sql "$F/check.sql" \
	    < "$T/all.tar.gz"
	expect_status 3
	[[ $output == *"database nosuch is not in the archive"* ]] || fail "$output"
	expect_eq "$(scratch_left)" "" "no scratch database left"
}
