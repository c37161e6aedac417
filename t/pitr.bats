#!/usr/bin/env bats
# pitr.bats - point-in-time recovery from stored objects only: a physical
# base backup (bk-dump --physical | bk-gz | bk-crypt | bk-s3put), WAL
# archived by contrib/wal/bk-wal-archive while rows keep being written,
# then a new cluster recovered to a chosen time with contrib/wal/
# bk-wal-restore as restore_command.  The rows it has must be exactly those
# committed at or before that time (commit timestamps are tracked, so the
# expected set is exact, not estimated).  Also the recipes' failure cases.

load helper

# as_owner CMD...: run as the servers' user (postgres when we are root).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u "$PGOWNER" -- "$@")
	else
		"$@"
	fi
}

# sql DB SQL: one value (or rows) from the original server.
sql() {
	psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

setup_file() {
	# $W is reachable by the server's user: tools, keys and config
	# live there.
	servers_start pitr pitr || return 1

	# The installed layout: tools and recipes where the server can run
	# them, an identity and its recipient, and the recipes' config.
	mkdir -p "$W/bin" "$W/keys" || return 1
	cp "$BK_ROOT"/bin/bk-gz "$BK_ROOT"/bin/bk-crypt "$BK_ROOT"/bin/bk-s3put \
	    "$BK_ROOT"/bin/bk-s3get "$BK_ROOT"/contrib/wal/bk-wal-archive \
	    "$BK_ROOT"/contrib/wal/bk-wal-restore "$W/bin/" || return 1
	chmod 755 "$W/bin" "$W/keys"
	bk-crypt --keygen -o "$W/keys/identity.txt" 2> /dev/null || return 1
	bk-crypt --to-recipient -i "$W/keys/identity.txt" > "$W/keys/recipients.txt" ||
	    return 1
	cat > "$W/wal.conf" <<-EOF
	BK_WAL_URL=s3://pitr/wal
	BK_WAL_RECIPIENTS=$W/keys/recipients.txt
	BK_WAL_IDENTITY=$W/keys/identity.txt
	BK_BINDIR=$W/bin
	BK_WAL_NO_CLOBBER=check
	export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
	export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
	export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
	export AWS_REGION=us-east-1
	export AWS_CONFIG_FILE=$W/none AWS_SHARED_CREDENTIALS_FILE=$W/none
	export AWS_EC2_METADATA_DISABLED=true
	unset BK_RUNDIR
	EOF
	chmod 600 "$W/wal.conf" "$W/keys/identity.txt"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$PGOWNER:" "$W/wal.conf" "$W/keys/identity.txt" || return 1
	fi

	sql postgres "ALTER SYSTEM SET archive_mode = on" > /dev/null &&
	sql postgres "ALTER SYSTEM SET archive_command = '$W/bin/bk-wal-archive -c $W/wal.conf %p %f'" > /dev/null &&
	sql postgres "ALTER SYSTEM SET track_commit_timestamp = on" > /dev/null ||
	    return 1
	as_owner "$BK_PG_BINDIR/pg_ctl" restart -w -t 60 -m fast -D "$BK_PG_DATA" \
	    -l "$BK_PG_LOG" > /dev/null || return 1
	createdb app || return 1
	sql app "CREATE TABLE t (id int PRIMARY KEY, pad text)" > /dev/null
}

teardown_file() {
	[ -n "${W:-}" ] || return 0
	if [ -d "$W/restored" ]; then
		as_owner "$BK_PG_BINDIR/pg_ctl" stop -m immediate -w -D "$W/restored" \
		    > /dev/null 2>&1 || true
	fi
	servers_stop
}

# wait_archived: switch to a new segment and wait (60 s at most) until the
# archiver has stored it and failed nothing since.
wait_archived() {
	local seg
	seg=$(sql postgres "SELECT pg_walfile_name(pg_switch_wal())")
	for _ in $(seq 1 600); do
		[ "$(sql postgres "SELECT last_archived_wal >= '$seg' FROM pg_stat_archiver")" = t ] &&
		    return 0
		sleep 0.1
	done
	fail "segment $seg not archived in 60 s: $(grep -E 'bk-|archive command' "$BK_PG_LOG" | tail -n 3)"
}

# writer FROM TO: insert rows FROM..TO, one transaction each, in the
# background; its pid in $writer.
writer() {
	psql -X -q -v ON_ERROR_STOP=1 -d app > /dev/null 2>&1 <<-EOF &
	DO \$\$
	BEGIN
		FOR i IN $1..$2 LOOP
			INSERT INTO t VALUES (i, repeat(md5(i::text), 20));
			COMMIT;
			PERFORM pg_sleep(0.002);
		END LOOP;
	END
	\$\$;
	EOF
	writer=$!
	track "$writer"
}

# unpack DIR CONF TARGET: a cluster in DIR from the newest stored base
# backup (its own WAL dropped: every segment comes from the archive),
# set to recover to TARGET with bk-wal-restore -c CONF, on port PGPORT+1.
unpack() {
	local dir=$1
	mkdir -m 700 "$dir"
	bk-s3get -q --latest s3://pitr/base/ |
	    bk-crypt -q -d -i "$W/keys/identity.txt" | bk-gz -q -d |
	    tar -xf - -C "$dir" || fail "cannot unpack the base backup"
	[ -f "$dir/backup_label" ] || fail "no backup_label in the base backup"
	rm -f "$dir"/pg_wal/0* "$dir/postmaster.pid"
	mkdir -p "$dir/sock"
	cat > "$dir/pgserver.conf" <<-EOF
	listen_addresses = ''
	port = $((PGPORT + 1))
	unix_socket_directories = '$dir/sock'
	EOF
	cat >> "$dir/postgresql.auto.conf" <<-EOF
	archive_mode = off
	restore_command = '$W/bin/bk-wal-restore -c $2 %f %p'
	recovery_target_time = '$3'
	recovery_target_action = promote
	EOF
	touch "$dir/recovery.signal"
	[ "$(id -u)" -ne 0 ] || chown -R "$PGOWNER:" "$dir"
	: > "$W/restored.log"
	[ "$(id -u)" -ne 0 ] || chown "$PGOWNER:" "$W/restored.log"
}

@test "PITR: base backup and archived WAL, recovered to a chosen time, exact rows" {
	local target expect got n dir=$W/restored port=$((PGPORT + 1))

	# Rows are written before, during and after the base backup.
	writer 1 3000
	sleep 0.5
	bk-dump -q --physical --checkpoint fast | bk-gz -q |
	    bk-crypt -q -R "$W/keys/recipients.txt" |
	    bk-s3put -q 's3://pitr/base/%Y%m%dT%H%M%SZ.tar.gz.age' > "$T/put" ||
	    fail "the base backup pipeline failed"
	[ -s "$T/put" ] || fail "bk-s3put printed no line"
	sleep 0.5
	target=$(sql postgres "SELECT clock_timestamp()")
	sleep 0.5
	wait "$writer" || fail "the writer failed"
	wait_archived

	# Exactly these rows were committed at or before the target.
	expect=$(sql app "SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM t WHERE pg_xact_commit_timestamp(xmin) <= '$target'")
	n=$(sql app "SELECT count(*) FROM t")
	echo "# target $target: $expect of $n rows" >&3
	[ "${expect%% *}" -gt 100 ] && [ "${expect%% *}" -lt "$n" ] ||
	    fail "the target does not split the writes: $expect of $n"

	# A new cluster from the stored objects only.
	unpack "$dir" "$W/wal.conf" "$target"
	as_owner "$BK_PG_BINDIR/pg_ctl" start -w -t 120 -D "$dir" -l "$W/restored.log" \
	    > /dev/null || fail "the recovered cluster does not start: $(tail -n 3 "$W/restored.log")"
	for _ in $(seq 1 600); do
		[ "$(psql -X -At -h "$dir/sock" -p "$port" -d postgres -c 'SELECT pg_is_in_recovery()')" = f ] &&
		    break
		sleep 0.1
	done
	grep -q 'recovery stopping before commit' "$W/restored.log" ||
	    fail "recovery did not stop at the target: $(grep -E 'recovery|LOG' "$W/restored.log" | tail -n 3)"
	got=$(psql -X -At -h "$dir/sock" -p "$port" -d app -c "SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM t")
	expect_eq "$got" "$expect" "rows after recovery (count min max)"
	# and they are rows 1..N with nothing missing
	got=$(psql -X -At -h "$dir/sock" -p "$port" -d app -c "SELECT count(*) = max(id) FROM t")
	expect_eq "$got" t "rows 1..N"
	# no WAL file was restored twice over or left half written
	[ -z "$(find "$dir/pg_wal" -name '*.bk-tmp' -o -name '*.bk-enc')" ] ||
	    fail "temporary files left in pg_wal"
	as_owner "$BK_PG_BINDIR/pg_ctl" stop -m fast -w -D "$dir" > /dev/null
	rm -rf "$dir"
}

@test "bk-wal-archive: an archived name is never replaced (exit 1, object kept); the same file again is archived (exit 0)" {
	local seg before name=000000090000000000000001
	seg=$(bk-s3ls s3://pitr/wal/ | awk '{ print $3 }' | grep -E '/[0-9A-F]{24}$' | head -n 1)
	[ -n "$seg" ] || fail "nothing archived yet"
	before=$(bk-s3ls "$seg")
	head -c 1000 /dev/urandom > "$T/seg"
	run "$W/bin/bk-wal-archive" -c "$W/wal.conf" "$T/seg" "${seg##*/}"
	[ "$status" -eq 1 ] || fail "exit $status, want 1: $output"
	[[ $output == *"exists, with other content"* ]] || fail "$output"
	expect_eq "$(bk-s3ls "$seg")" "$before" "the stored segment"

	# After a crash PostgreSQL may offer a file it archived again.
	head -c 300000 /dev/urandom > "$T/seg2"
	run "$W/bin/bk-wal-archive" -c "$W/wal.conf" "$T/seg2" "$name"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	before=$(bk-s3ls "s3://pitr/wal/$name")
	sleep 1.1	# a new object would have a new time
	run "$W/bin/bk-wal-archive" -c "$W/wal.conf" "$T/seg2" "$name"
	[ "$status" -eq 0 ] || fail "the same file again: exit $status: $output"
	expect_eq "$(bk-s3ls "s3://pitr/wal/$name")" "$before" "the object, untouched"
	{ cat "$T/seg2"; printf x; } > "$T/seg3"
	run "$W/bin/bk-wal-archive" -c "$W/wal.conf" "$T/seg3" "$name"
	[ "$status" -eq 1 ] || fail "another file under the name: exit $status: $output"
	bk-s3get "s3://pitr/wal/$name" | bk-crypt -d -i "$W/keys/identity.txt" |
	    bk-gz -d > "$T/back"
	expect_same "$T/back" "$T/seg2" "the stored file"
}

@test "bk-wal-archive into a directory: the same file again is archived, another is refused" {
	local name=000000010000000000000042
	mkdir "$T/arch"
	printf 'BK_WAL_URL=%s\nBK_WAL_RECIPIENTS=%s\nBK_BINDIR=%s\nunset BK_RUNDIR\n' \
	    "$T/arch" "$W/keys/recipients.txt" "$W/bin" > "$T/conf"
	head -c 200000 /dev/urandom > "$T/seg"
	run "$W/bin/bk-wal-archive" -c "$T/conf" "$T/seg" "$name"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	cp -p "$T/arch/$name" "$T/first"
	run "$W/bin/bk-wal-archive" -c "$T/conf" "$T/seg" "$name"
	[ "$status" -eq 0 ] || fail "the same file again: exit $status: $output"
	cmp -s "$T/arch/$name" "$T/first" || fail "the archived file changed"
	{ cat "$T/seg"; printf x; } > "$T/seg2"
	run "$W/bin/bk-wal-archive" -c "$T/conf" "$T/seg2" "$name"
	[ "$status" -eq 1 ] || fail "another file: exit $status: $output"
	# Without the checksum every taken name is refused.
	echo BK_WAL_SAME=no >> "$T/conf"
	run "$W/bin/bk-wal-archive" -c "$T/conf" "$T/seg" "$name"
	[ "$status" -eq 1 ] || fail "BK_WAL_SAME=no: exit $status: $output"
	cmp -s "$T/arch/$name" "$T/first" || fail "the archived file changed"
	expect_eq "$(ls -A "$T/arch")" "$name" "one file, no temporary one"
	bk-crypt -d -i "$W/keys/identity.txt" < "$T/arch/$name" | bk-gz -d > "$T/back"
	expect_same "$T/back" "$T/seg" "the archived file"
}

@test "bk-wal-archive: a failing stage stores nothing; a bad config is exit 2" {
	head -c 100000 /dev/urandom > "$T/seg"
	printf 'BK_WAL_URL=s3://pitr/wal\nBK_WAL_RECIPIENTS=%s\nBK_BINDIR=%s\n' \
	    "$T/bad-recipients" "$W/bin" > "$T/conf"
	sed -n '/^export/p' "$W/wal.conf" >> "$T/conf"
	echo 'not-a-recipient' > "$T/bad-recipients"
	run "$BK_ROOT/contrib/wal/bk-wal-archive" -c "$T/conf" "$T/seg" 0000000100000000000000FE
	[ "$status" -ne 0 ] || fail "exit 0 with a bad recipient"
	[ -z "$(bk-s3ls s3://pitr/wal/0000000100000000000000FE)" ] ||
	    fail "an object was stored"
	run "$BK_ROOT/contrib/wal/bk-wal-archive" -c "$T/none" "$T/seg" 0000000100000000000000FE
	[ "$status" -eq 2 ] || fail "exit $status for a missing config: $output"
	run "$BK_ROOT/contrib/wal/bk-wal-archive" -c "$W/wal.conf" "$T/seg" ../x
	[ "$status" -eq 2 ] || fail "exit $status for a bad name: $output"
}

@test "bk-wal-restore: a missing name is exit 1 and silent; other failures are 126 and leave nothing" {
	local seg
	mkdir "$T/pg_wal"
	run "$BK_ROOT/contrib/wal/bk-wal-restore" -c "$W/wal.conf" \
	    00000009000000000000FFFF "$T/pg_wal/RECOVERYXLOG"
	[ "$status" -eq 1 ] || fail "exit $status for a missing segment: $output"
	[ -z "$output" ] || fail "said something: $output"
	[ -z "$(ls -A "$T/pg_wal")" ] || fail "left: $(ls -A "$T/pg_wal")"

	seg=$(bk-s3ls s3://pitr/wal/ | awk '{ print $3 }' | grep -E '/[0-9A-F]{24}$' | head -n 1)
	# a wrong key
	bk-crypt --keygen -o "$T/other.txt" 2> /dev/null
	sed "s|^BK_WAL_IDENTITY=.*|BK_WAL_IDENTITY=$T/other.txt|" "$W/wal.conf" > "$T/conf"
	run "$BK_ROOT/contrib/wal/bk-wal-restore" -c "$T/conf" "${seg##*/}" "$T/pg_wal/RECOVERYXLOG"
	[ "$status" -eq 126 ] || fail "exit $status with a wrong key: $output"
	[ -z "$(ls -A "$T/pg_wal")" ] || fail "left: $(ls -A "$T/pg_wal")"
	# the store unreachable (connection refused, no retries)
	sed "s|^export AWS_ENDPOINT_URL=.*|export AWS_ENDPOINT_URL=http://127.0.0.1:1 AWS_ENDPOINT_URL_S3=http://127.0.0.1:1 BK_S3_RETRIES=0|" \
	    "$W/wal.conf" > "$T/conf"
	run "$BK_ROOT/contrib/wal/bk-wal-restore" -c "$T/conf" "${seg##*/}" "$T/pg_wal/RECOVERYXLOG"
	[ "$status" -eq 126 ] || fail "exit $status with the store unreachable: $output"
	[ -z "$(ls -A "$T/pg_wal")" ] || fail "left: $(ls -A "$T/pg_wal")"
	# and the good one works, byte for byte what the server wrote
	run "$BK_ROOT/contrib/wal/bk-wal-restore" -c "$W/wal.conf" "${seg##*/}" "$T/pg_wal/RECOVERYXLOG"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	expect_eq "$(fsize "$T/pg_wal/RECOVERYXLOG")" 16777216 "segment size"
	expect_eq "$(ls -A "$T/pg_wal")" RECOVERYXLOG "pg_wal"
}

@test "PITR with the store unreachable: recovery stops, it does not promote early" {
	local dir=$W/unreachable
	sed "s|^export AWS_ENDPOINT_URL=.*|export AWS_ENDPOINT_URL=http://127.0.0.1:1 AWS_ENDPOINT_URL_S3=http://127.0.0.1:1 BK_S3_RETRIES=0|" \
	    "$W/wal.conf" > "$W/bad.conf"
	chmod 600 "$W/bad.conf"
	[ "$(id -u)" -ne 0 ] || chown "$PGOWNER:" "$W/bad.conf"
	unpack "$dir" "$W/bad.conf" "$(date -u '+%Y-%m-%d %H:%M:%S+00')"
	if as_owner "$BK_PG_BINDIR/pg_ctl" start -w -t 60 -D "$dir" \
	    -l "$W/restored.log" > /dev/null 2>&1; then
		psql -X -At -h "$dir/sock" -p $((PGPORT + 1)) -d postgres \
		    -c 'SELECT pg_is_in_recovery()' > "$T/rec" 2>&1 || true
		as_owner "$BK_PG_BINDIR/pg_ctl" stop -m immediate -w -D "$dir" > /dev/null 2>&1
		fail "the server started (in recovery: $(cat "$T/rec"))"
	fi
	grep -q 'bk-s3get: GET s3://pitr/wal/.*connect' "$W/restored.log" &&
	    grep -q 'FATAL: .*could not restore file' "$W/restored.log" ||
	    fail "no bk-wal-restore error in the log: $(grep -v '^\s' "$W/restored.log" | tail -n 12)"
	[ ! -f "$dir/recovery.signal" ] && fail "promoted: recovery.signal gone"
	rm -rf "$dir" "$W/bad.conf"
}
