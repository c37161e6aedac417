#!/usr/bin/env bats
# bk-verify --restore-test on a throwaway PostgreSQL 15 (t/pgserver.sh):
# custom and plain dumps, raw and through bk-gz | bk-crypt, restore into a
# scratch database that is always dropped; --check-sql catches data the
# format checks cannot; an unreachable server is "could not check".

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
}

# scratch_left: the bk_verify_* databases on the server.
scratch_left() {
	psql -X -At -d postgres -c \
	    "SELECT datname FROM pg_database WHERE datname LIKE 'bk_verify_%'"
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
	expect_eq "$(scratch_left)" "" "no scratch database left"
}

@test "could not check: an unreachable server is exit 3; usage" {
	run bk-verify --restore-test "host=127.0.0.1 port=1 dbname=postgres" \
	    < "$F/custom"
	expect_status 3
	[[ $output == *"restore test: cannot connect"* ]] || fail "$output"

	run bk-verify --check-sql "$F/check.sql" < "$F/custom"
	expect_status 2
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
	printf 'SELECT count(*) = 499 FROM notes;\n' > "$T/wrong.sql"
	run bk-verify -i "$F/key" --restore-test dbname=src \
	    --check-sql "$T/wrong.sql" < "$F/base.gz.age"
	expect_status 1
	[[ $output == *"check query 1 (SELECT count(*) = 499 FROM notes;) is not true"* ]] ||
	    fail "message: $output"
	expect_eq "$(ls -d /tmp/bk-restore.* 2>/dev/null)" "" "no temp dir left"
	expect_eq "$(pgrep -f 'bk-restore\.' || true)" "" "no server left"
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
