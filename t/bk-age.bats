#!/usr/bin/env bats
# bk-age against backups made by the real tools, on a directory and on a
# real S3 server (Swift with s3api, t/s3server.sh), and against listings
# on stdin: fresh, stale, tiny, unsealed, empty and unreadable give the
# right state and exit code; the journal's consecutive failures; the
# Prometheus textfile (content, atomic replace) and JSON; timeouts and
# usage errors are UNKNOWN (3), never CRITICAL.

load helper

setup_file() {
	S3DIR=$(mktemp -d /tmp/bk-age-t.XXXXXX)
	export S3DIR
	"$BK_ROOT/t/s3server.sh" start "$S3DIR/srv" || return 1
	"$BK_ROOT/t/s3server.sh" mb "$S3DIR/srv" bk-age-t || return 1
}

teardown_file() {
	"$BK_ROOT/t/s3server.sh" stop "$S3DIR/srv" || true
	rm -rf "$S3DIR"
}

# age FILE SECONDS: make FILE's modification time SECONDS ago.
age() {
	touch -d "@$(( $(date +%s) - $2 ))" "$1"
}

# check ARGS...: run bk-age, stdout to $out (first line $line), stderr
# to $err, exit status to $status.
check() {
	status=0
	bk-age "$@" > "$T/out" 2> "$T/stderr" < /dev/null || status=$?
	out=$(cat "$T/out")
	line=$(head -n 1 "$T/out")
	# shellcheck disable=SC2034 # read by expect_status
	err=$(cat "$T/stderr")
}

# expect_line REGEX: the first line of the output matches (grep -E).
expect_line() {
	printf '%s\n' "$line" | grep -Eq -- "$1" ||
	    fail "output '$line' does not match '$1'"
}

# backup DIR NAME SIZE: a backup stored by bk-s3put from a file
# redirect (its seal is "none").
backup() {
	mkdata_random "$T/in" "$3"
	bk-s3put "$1/$2" < "$T/in" > /dev/null
}

@test "fresh: OK, exit 0, the plugin line with perfdata" {
	backup "$T/d" db-1.dump 5000
	check "$T/d/"
	expect_status 0
	expect_line "^BK-AGE OK - newest backup [0-9]s old \\($T/d/db-1.dump, 4.88 KiB\\) \\| 'age'=[0-9]s;90000;176400;0 'size'=5000B;;;0 'count'=1;;;0\$"
	[ "$(wc -l < "$T/out")" -eq 1 ] || fail "more than one line: $out"
	expect_empty "$T/stderr"
	check "file://$T/d/"
	expect_status 0
	check -v "$T/d/"
	expect_status 0
	[ "$(wc -l < "$T/out")" -ge 3 ] || fail "-v: no detail lines: $out"
	printf '%s\n' "$out" | grep -q "^newest backup: $T/d/db-1.dump, " ||
	    fail "-v: no newest backup line: $out"
}

@test "stale: WARNING 1 over --warning, CRITICAL 2 over --critical; at the threshold it is OK" {
	backup "$T/d" db-1.dump 5000
	age "$T/d/db-1.dump" $((26 * 3600))
	check "$T/d/"
	expect_status 1
	expect_line "^BK-AGE WARNING - newest backup 1d2h old .*; age over warning 1d1h \\| 'age'=936[0-9][0-9]s;"
	age "$T/d/db-1.dump" $((50 * 3600))
	check "$T/d/"
	expect_status 2
	expect_line "^BK-AGE CRITICAL - newest backup 2d2h old .*; age over critical 2d1h \\|"
	check -w 3d -c 4d "$T/d/"
	expect_status 0
	expect_line "'age'=18[0-9]+s;259200;345600;0"
	# a newer backup makes it fresh again, whatever the older ones are
	backup "$T/d" db-2.dump 5000
	check "$T/d/"
	expect_status 0
	expect_line "\\($T/d/db-2.dump, "
	# a threshold of an hour, an age of ten minutes
	age "$T/d/db-2.dump" 600
	age "$T/d/db-1.dump" 700
	check -w 9m -c 1h "$T/d/"
	expect_status 1
	check -w 11m -c 1h "$T/d/"
	expect_status 0
}

@test "tiny: an empty or too small newest object is CRITICAL, the age is that of the last real backup" {
	backup "$T/d" db-1.dump 5000
	age "$T/d/db-1.dump" 7200
	bk-s3put "$T/d/db-2.dump" < /dev/null > /dev/null
	check "$T/d/"
	expect_status 2
	expect_line "^BK-AGE CRITICAL - newest backup 2h0m old \\($T/d/db-1.dump, 4.88 KiB\\); newest object $T/d/db-2.dump is empty \\| 'age'=720[0-9]s;90000;176400;0 'size'=5000B;;;0 'count'=1;;;0\$"
	rm "$T/d/db-2.dump"
	check --min-size 1M "$T/d/"
	expect_status 2
	expect_line "^BK-AGE CRITICAL - no backup of at least 1 MiB; newest object $T/d/db-1.dump too small \\(4.88 KiB < 1 MiB\\) \\| 'age'=U;90000;176400;0 'size'=U;;1048576:;0 'count'=0;;;0\$"
	check --min-size 4K "$T/d/"
	expect_status 0
}

@test "--require-sealed on a directory: a pipeline of bk tools passes; a non-bk pipe (unsealed) and a file redirect (none) fail" {
	mkdata_random "$T/in" 5000
	bk-gz < "$T/in" | bk-s3put "$T/d/sealed.gz" > /dev/null
	check --require-sealed "$T/d/"
	expect_status 0
	check --require-sealed -v "$T/d/"
	printf '%s\n' "$out" | grep -qx "seal: ok" || fail "no 'seal: ok': $out"
	# shellcheck disable=SC2002 # cat: a writer that is not a bk tool
	cat "$T/in" | bk-s3put "$T/d/unsealed" > /dev/null
	check --require-sealed "$T/d/"
	expect_status 2
	expect_line "^BK-AGE CRITICAL - newest backup [0-9]s old \\($T/d/unsealed, 4.88 KiB\\); newest backup not sealed \\(seal: unsealed\\) \\|"
	check "$T/d/"
	expect_status 0
	bk-s3put "$T/d/z-file" < "$T/in" > /dev/null
	check --require-sealed "$T/d/"
	expect_status 2
	expect_line "newest backup not sealed \\(seal: none\\)"
	# a file bk did not store: no seal recorded
	cp "$T/in" "$T/d/zz-copied"
	check --require-sealed "$T/d/"
	expect_status 2
	expect_line "newest backup not sealed \\(no seal recorded\\)"
	check --require-sealed --match '*.gz' "$T/d/"
	expect_status 0
}

@test "empty: an empty directory or nothing matching is CRITICAL; a missing directory UNKNOWN" {
	mkdir "$T/d"
	check "$T/d/"
	expect_status 2
	expect_line "^BK-AGE CRITICAL - no backup found \\| 'age'=U;90000;176400;0 'size'=U;;;0 'count'=0;;;0\$"
	echo x > "$T/d/README"
	check --match 'db-*' "$T/d/"
	expect_status 2
	expect_line "^BK-AGE CRITICAL - no backup found matching 'db-\\*' \\|"
	check --match 'README' --min-count 2 "$T/d/"
	expect_status 1
	expect_line "^BK-AGE WARNING - newest backup [0-9]s old \\($T/d/README, 2 B\\); only 1 backup \\(min 2\\) \\|"
	# a directory that does not exist cannot be listed: UNKNOWN
	check "$T/nothere/"
	expect_status 3
	expect_line "^BK-AGE UNKNOWN - $T/nothere/: no such directory\$"
}

@test "a listing on stdin: read like a location; malformed or cut short is UNKNOWN" {
	backup "$T/d" db-1.dump 5000
	age "$T/d/db-1.dump" $((30 * 3600))
	status=0
	bk-s3ls "$T/d/" | bk-age - > "$T/out" || status=$?
	expect_status 1
	grep -q "^BK-AGE WARNING - newest backup 1d6h old ($T/d/db-1.dump, 4.88 KiB); age over warning 1d1h |" "$T/out" ||
	    fail "$(cat "$T/out")"
	bk-s3ls "$T/d/" > "$T/listing"
	io "$T/listing" "$T/out" bk-age -
	expect_status 1
	printf '2026-11-21T02:00:13Z 5 /b/x\nnot a listing line\n' > "$T/bad"
	io "$T/bad" "$T/out" bk-age -
	expect_status 3
	grep -q '^BK-AGE UNKNOWN - stdin: line 2: ' "$T/out" || fail "$(cat "$T/out")"
	printf '2026-11-21T02:00:13Z 5 /b/x' > "$T/cut"
	io "$T/cut" "$T/out" bk-age -
	expect_status 3
	grep -q '^BK-AGE UNKNOWN - stdin: line 1: ' "$T/out" || fail "$(cat "$T/out")"
	: > "$T/empty"
	io "$T/empty" "$T/out" bk-age -
	expect_status 2
	grep -qx "BK-AGE CRITICAL - no backup found | 'age'=U;90000;176400;0 'size'=U;;;0 'count'=0;;;0" "$T/out" ||
	    fail "$(cat "$T/out")"
}

@test "a listing whose bk-s3ls failed is UNKNOWN, not an empty listing" {
	status=0
	bk-s3ls "$T/nothere/" 2> /dev/null | bk-age - > "$T/out" || status=$?
	expect_status 3
	grep -qx "BK-AGE UNKNOWN - the listing's upstream failed: it may be incomplete" "$T/out" ||
	    fail "$(cat "$T/out")"
	# a lister that is not a bk tool cannot be checked: its listing counts
	status=0
	printf '%s 9 /b/x\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" | bk-age - > "$T/out" || status=$?
	expect_status 0
}

@test "--journal: consecutive failed runs of bk-s3put to the location, CRITICAL at --max-failures" {
	backup "$T/d" db-1.dump 5000
	export BK_JOURNAL=$T/journal
	echo "not gzip" > "$T/garbage"
	bk-s3put "$T/d/db-2.dump" < "$T/in" > /dev/null
	for i in 1 2 3; do
		bk-gz -d < "$T/garbage" 2>/dev/null | bk-s3put "$T/d/db-f$i.dump" 2>/dev/null && fail "run $i did not fail"
	done
	# runs elsewhere and of other tools do not count
	bk-s3put "$T/other/x" < "$T/in" > /dev/null
	unset BK_JOURNAL
	[ "$(grep -c '"tool":"bk-s3put"' "$T/journal")" -eq 5 ] || fail "journal: $(cat "$T/journal")"
	check --journal "$T/journal" --max-failures 3 "$T/d/"
	expect_status 2
	expect_line "^BK-AGE CRITICAL - newest backup [0-9]s old \\($T/d/db-2.dump, 4.88 KiB\\); 3 consecutive failed runs \\(max 3\\) \\| 'age'=[0-9]s;90000;176400;0 'size'=5000B;;;0 'count'=2;;;0 'failures'=3;;2;0\$"
	check --journal "$T/journal" --max-failures 4 "$T/d/"
	expect_status 0
	check --journal "$T/journal" --max-failures 3 "file://$T/d/"
	expect_status 2
	check --journal "$T/journal" --max-failures 3 --journal-destination "$T/other/" "$T/d/"
	expect_status 0
	# bk-gz's runs have no destination: "" takes runs to anywhere
	check --journal "$T/journal" --max-failures 3 --journal-tool bk-gz "$T/d/"
	expect_status 0
	check --journal "$T/journal" --max-failures 3 --journal-tool bk-gz --journal-destination '' "$T/d/"
	expect_status 2
	expect_line "; 3 consecutive failed runs \\(max 3\\) \\|"
	check --journal "$T/journal" --json "$T/d/"
	expect_status 2
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["journal"]=={"runs":4,"consecutive_failures":3}, d' "$T/out" ||
	    fail "json: $out"
	# a success ends the series
	BK_JOURNAL=$T/journal bk-s3put "$T/d/db-3.dump" < "$T/in" > /dev/null
	check --journal "$T/journal" "$T/d/"
	expect_status 0
	expect_line "'failures'=0;;0;0\$"
	# a failure in the middle of the journal is history
	BK_JOURNAL=$T/journal bk-s3put "$T/d/db-4.dump" < "$T/in" > /dev/null
	check --journal "$T/journal" --max-failures 1 "$T/d/"
	expect_status 0
}

@test "--journal: a broken or missing journal is UNKNOWN" {
	backup "$T/d" db-1.dump 5000
	printf '{"tool":"bk-s3put","outcome":"ok"}\n{"tool":"bk-s3put",\n' > "$T/journal"
	check --journal "$T/journal" "$T/d/"
	expect_status 3
	expect_line "^BK-AGE UNKNOWN - journal: $T/journal: line 2: "
	printf '{"tool":"bk-s3put","outcome":"failed","x":{"y":[1,2]}}' > "$T/journal"
	check --journal "$T/journal" "$T/d/"
	expect_status 3
	expect_line "line 1: no newline at the end \\(cut short\\)\$"
	check --journal "$T/nojournal" "$T/d/"
	expect_status 3
	expect_line "^BK-AGE UNKNOWN - journal $T/nojournal: No such file or directory\$"
}

@test "--prometheus: the textfile, written atomically; state 3 on UNKNOWN" {
	backup "$T/d" db-1.dump 5000
	mkdir "$T/prom"
	check --prometheus "$T/prom/bk.prom" "$T/d/"
	expect_status 0
	expect_line "^BK-AGE OK - "
	[ "$(ls -A "$T/prom")" = bk.prom ] || fail "left behind: $(ls -A "$T/prom")"
	[ "$(stat -c %a "$T/prom/bk.prom")" = 644 ] || fail "mode $(stat -c %a "$T/prom/bk.prom")"
	mtime=$(stat -c %Y "$T/d/db-1.dump")
	grep -qx "bk_backup_last_success_timestamp_seconds{location=\"$T/d/\"} $mtime" "$T/prom/bk.prom" ||
	    fail "timestamp: $(cat "$T/prom/bk.prom")"
	grep -qx "bk_backup_last_size_bytes{location=\"$T/d/\"} 5000" "$T/prom/bk.prom" || fail size
	grep -qx "bk_backup_count{location=\"$T/d/\"} 1" "$T/prom/bk.prom" || fail count
	grep -qx "bk_backup_check_state{location=\"$T/d/\"} 0" "$T/prom/bk.prom" || fail state
	grep -qx "# HELP bk_backup_last_success_timestamp_seconds Modification time of the newest backup (of at least the minimum size), in seconds since the epoch; 0 if there is none." "$T/prom/bk.prom" || fail "HELP"
	grep -qx "# TYPE bk_backup_age_seconds gauge" "$T/prom/bk.prom" || fail "TYPE"
	# every line a comment or a sample of the exposition format
	if grep -Ev '^(# (HELP|TYPE) bk_backup_[a-z_]+ .+|bk_backup_[a-z_]+\{location="[^"]*"\} ([0-9]+|NaN))$' "$T/prom/bk.prom"; then
		fail "not exposition format"
	fi
	# replaced, not appended; the old inode is not written to
	ln "$T/prom/bk.prom" "$T/old"
	age "$T/d/db-1.dump" $((50 * 3600))
	check --prometheus "$T/prom/bk.prom" "$T/d/"
	expect_status 2
	grep -qx "bk_backup_check_state{location=\"$T/d/\"} 2" "$T/prom/bk.prom" || fail "state 2"
	grep -qx "bk_backup_check_state{location=\"$T/d/\"} 0" "$T/old" || fail "old inode changed"
	[ "$(grep -c '^bk_backup_check_state' "$T/prom/bk.prom")" -eq 1 ] || fail "appended"
	# the check cannot be made: the state alone, 3
	check --prometheus "$T/prom/bk.prom" "$T/nothere/"
	expect_status 3
	grep -qx "bk_backup_check_state{location=\"$T/nothere/\"} 3" "$T/prom/bk.prom" || fail "state 3"
	! grep -q '^bk_backup_last_success' "$T/prom/bk.prom" || fail "stale values kept"
	[ "$(ls -A "$T/prom")" = bk.prom ] || fail "left behind: $(ls -A "$T/prom")"
	# a textfile that cannot be written: UNKNOWN, and why
	check --prometheus "$T/noprom/bk.prom" "$T/d/"
	expect_status 3
	expect_line "^BK-AGE UNKNOWN - --prometheus: $T/noprom/bk.prom.tmp.[A-Za-z0-9]{6}: No such file or directory\$"
}

@test "--json: one object that python parses, with state, exit, newest, problems" {
	skip_unless_py
	backup "$T/d" 'db "1".dump' 5000
	bk-s3put "$T/d/db-2.dump" < /dev/null > /dev/null
	check --json "$T/d/"
	expect_status 2
	[ "$(wc -l < "$T/out")" -eq 1 ] || fail "not one line: $out"
	"$PY" - "$T/out" "$T/d" <<-'EOF' || fail "json: $out"
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert d["state"] == "CRITICAL" and d["exit"] == 2, d
	assert d["newest"]["url"] == sys.argv[2] + '/db "1".dump', d
	assert d["newest"]["size"] == 5000 and d["count"] == 1, d
	assert d["newest_object"]["url"] == sys.argv[2] + "/db-2.dump", d
	assert d["newest_object"]["size"] == 0, d
	assert isinstance(d["age_seconds"], int) and d["age_seconds"] < 60, d
	assert d["problems"] == ["newest object %s/db-2.dump is empty" % sys.argv[2]], d
	assert d["summary"].startswith("newest backup "), d
	EOF
	check --json "$T/nothere/"
	expect_status 3
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["state"]=="UNKNOWN" and d["exit"]==3 and d["newest"] is None and "no such directory" in d["summary"], d' "$T/out" ||
	    fail "json: $out"
	check --json --bogus "$T/d/"
	expect_status 3
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["state"]=="UNKNOWN", d' "$T/out" ||
	    fail "json usage error: $out"
}

@test "-t: a check that takes too long is UNKNOWN after the timeout, with the textfile written" {
	mkdir "$T/prom"
	status=0
	(sleep 3; echo) | bk-age -t 1 --prometheus "$T/prom/bk.prom" - > "$T/out" || status=$?
	expect_status 3
	grep -qx 'BK-AGE UNKNOWN - timed out after 1s' "$T/out" || fail "$(cat "$T/out")"
	grep -qx 'bk_backup_check_state{location="-"} 3' "$T/prom/bk.prom" || fail "textfile: $(cat "$T/prom/bk.prom")"
	[ "$(ls -A "$T/prom")" = bk.prom ] || fail "left behind: $(ls -A "$T/prom")"
	status=0
	(sleep 3; echo) | bk-age --json -t 1 - > "$T/out" || status=$?
	expect_status 3
	grep -qx '{"state":"UNKNOWN","exit":3,"summary":"timed out after 1s",.*}' "$T/out" || fail "$(cat "$T/out")"
}

@test "usage errors are UNKNOWN (3), never CRITICAL; -h and -V exit 0" {
	backup "$T/d" db-1.dump 5000
	for args in "--bogus $T/d/" "" "$T/d/ $T/d/" "-w 1x $T/d/" "-w 2h -c 1h $T/d/" \
	    "--min-size lots $T/d/" "--max-failures 2 $T/d/" "--journal-tool x $T/d/" \
	    "--min-count -1 $T/d/" "-t"; do
		# shellcheck disable=SC2086
		check $args
		[ "$status" -eq 3 ] || fail "'$args': exit $status: $out"
		expect_line "^BK-AGE UNKNOWN - ."
		printf '%s\n' "$out" | grep -q '^usage: bk-age ' || fail "'$args': no usage line: $out"
	done
	check --require-sealed -
	expect_status 3
	expect_line "^BK-AGE UNKNOWN - --require-sealed needs a location: a listing on stdin says nothing of seals\$"
	check -h
	expect_status 0
	expect_line "^usage: bk-age "
	check -V
	expect_status 0
	expect_line "^bk-age \\(bk\\) "
}

@test "Swift: fresh OK; a sealed multipart object passes --require-sealed, a single PUT from a file fails it" {
	# shellcheck disable=SC1091
	. "$S3DIR/srv/env"
	P=s3://bk-age-t/t$BATS_TEST_NUMBER
	# shellcheck disable=SC2154 # MiB: helper.bash
	mkdata_random "$T/in" $((7 * MiB))
	bk-gz -1 < "$T/in" | bk-s3put "$P/db-1.dump.gz" > /dev/null
	check --require-sealed --min-size 6M "$P/"
	expect_status 0
	expect_line "^BK-AGE OK - newest backup [0-9]+s old \\($P/db-1.dump.gz, 7\\.[0-9]+ MiB\\) \\| 'age'=[0-9]+s;90000;176400;0 'size'=[0-9]+B;;6291456:;0 'count'=1;;;0\$"
	# the KEY.sha256 record of the multipart object is neither a backup
	# nor a too small newest object
	check --min-size 6M --min-count 2 "$P/"
	expect_status 1
	expect_line "only 1 backup \\(min 2\\)"
	# unsealed multipart: the record says so
	# shellcheck disable=SC2002 # cat: a writer that is not a bk tool
	cat "$T/in" | bk-s3put "$P/db-2.dump" > /dev/null
	check --require-sealed "$P/"
	expect_status 2
	expect_line "^BK-AGE CRITICAL - newest backup [0-9]+s old \\($P/db-2.dump, 7 MiB\\); newest backup not sealed \\(seal: unsealed\\) \\|"
	# a single PUT from a file redirect: seal none
	head -c 5000 "$T/in" > "$T/small"
	bk-s3put "$P/db-3.dump" < "$T/small" > /dev/null
	check --require-sealed "$P/"
	expect_status 2
	expect_line "newest backup not sealed \\(seal: none\\)"
	# sealed single PUT
	bk-gz < "$T/small" | bk-s3put "$P/db-4.dump.gz" > /dev/null
	check --require-sealed --prometheus "$T/bk.prom" "$P/"
	expect_status 0
	grep -qx "bk_backup_count{location=\"$P/\"} 4" "$T/bk.prom" || fail "$(cat "$T/bk.prom")"
	# a listing on stdin from bk-s3ls of the bucket
	status=0
	bk-s3ls "$P/" | bk-age --match '*.gz' - > "$T/out" || status=$?
	expect_status 0
	grep -q "^BK-AGE OK - newest backup [0-9]*s old ($P/db-4.dump.gz, " "$T/out" || fail "$(cat "$T/out")"
}

@test "Swift: a missing bucket or bad credentials are UNKNOWN; an empty prefix is CRITICAL" {
	# shellcheck disable=SC1091
	. "$S3DIR/srv/env"
	check s3://bk-age-t/nothing-here/
	expect_status 2
	expect_line "^BK-AGE CRITICAL - no backup found \\|"
	check s3://bk-age-missing/x/
	expect_status 3
	expect_line "^BK-AGE UNKNOWN - .*NoSuchBucket"
	status=0
	bk-s3ls s3://bk-age-missing/x/ 2>/dev/null | bk-age - > "$T/out" || status=$?
	expect_status 3
	status=0
	AWS_SECRET_ACCESS_KEY=wrong bk-age s3://bk-age-t/ > "$T/out" 2>&1 || status=$?
	expect_status 3
	grep -q "^BK-AGE UNKNOWN - .*403" "$T/out" || fail "$(cat "$T/out")"
}
