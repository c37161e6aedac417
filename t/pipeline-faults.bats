#!/usr/bin/env bats
# pipeline-faults.bats - end-to-end fault injection of the real pipeline
#
#   bk-dump DB | bk-gz | bk-crypt -r R | bk-s3put s3://faults/...
#
# run under /bin/sh, which has no pipefail, as cron runs it: each stage
# killed (SIGKILL) at random points, the S3 server stopped mid-upload, a
# full disk under a file destination, a wrong key, a truncated object.
# Every trial must end non-zero with nothing stored at the final name (no
# object, no record), no multipart upload left behind (a bk-s3put killed
# outright cannot abort its own: bk-prune --abort-incomplete must), and
# bk-age must not call anything a fresh backup.  A kill that lands after
# the stage recorded its success in the seal, on its way out, has nothing
# left to break: such a run may succeed, and its object must then restore
# whole; it is drawn again.  The trial counts are printed.  BK_FAULT_TRIALS sets the trials per stage (default 20).

load helper

# The S3 server moves to a new port when a test restarts it: each test
# reads where it is now.
setup() {
	bk_setup
	# shellcheck disable=SC1091
	. "$W/s3/env"
}

setup_file() {
	local t0 t1
	servers_start faults faults || return 1
	createdb db || return 1
	# ~40 MiB of text that compresses about 2:1: the pipeline runs for
	# a second or so, long enough to be hit anywhere.
	psql -X -q -d db -c "CREATE TABLE t AS SELECT g, md5(g::text) || ' ' || md5((g * 3)::text) || ' ' || (g * 17) AS v FROM generate_series(1, 500000) g" ||
	    return 1
	export ROWS=500000
	bk-crypt --keygen -o "$W/id.txt" 2> /dev/null || return 1
	bk-crypt --to-recipient -i "$W/id.txt" > "$W/rcpt" || return 1
	RCPT=$(cat "$W/rcpt")
	export RCPT
	# A clean run: how long one takes, and a backup to compare with.
	t0=$(date +%s%N)
	pipeline s3://faults/clean/db.dump.gz.age || return 1
	t1=$(date +%s%N)
	DUR_MS=$(((t1 - t0) / 1000000))
	export DUR_MS
	echo "# a clean run takes $DUR_MS ms" >&3
}

teardown_file() {
	[ -n "${W:-}" ] || return 0
	if mountpoint -q "$W/full" 2> /dev/null; then
		umount "$W/full" || true
	fi
	servers_stop
}

# pipeline DEST: the four stages under /bin/sh, in the foreground.
pipeline() {
	sh -c 'bk-dump -q db | bk-gz -q | bk-crypt -q -r "$RCPT" | bk-s3put -q "$1" > /dev/null' \
	    sh "$1"
}

# uploads PREFIX: the multipart uploads in progress under PREFIX, one key
# per line.
uploads() {
	aws --endpoint-url "$AWS_ENDPOINT_URL" s3api list-multipart-uploads \
	    --bucket faults --prefix "$1" --query 'Uploads[].Key' --output text |
	    grep -v '^None$' || true
}

# not_fresh PREFIX: bk-age finds no fresh backup under PREFIX.
not_fresh() {
	run bk-age -w 25h -c 49h --min-size 1K "s3://faults/$1"
	[ "$status" -ne 0 ] || fail "bk-age says OK under $1: $output"
}

# stage_pid PID NAME: the pid of stage NAME of the pipeline that timeout
# PID runs (timeout, then sh, then the stages); tries for 200 ms, since a
# stage may not have been forked yet.
stage_pid() {
	local sh pid
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		sh=$(pgrep -P "$1" -x sh | head -n 1)
		if [ -n "$sh" ]; then
			pid=$(pgrep -P "$sh" -x "$2" | head -n 1)
			[ -z "$pid" ] || { echo "$pid"; return 0; }
		fi
		sleep 0.01
	done
}

# whole_backup URL: the object restores to the whole database.
whole_backup() {
	bk-s3get -q "$1" | bk-crypt -q -d -i "$W/id.txt" | bk-gz -q -d |
	    pg_restore -f - | grep -c '^[0-9]' > "$T/rows" || true
	[ "$(cat "$T/rows")" -eq "$ROWS" ]
}

# kill_trials STAGE N: N trials of the pipeline with STAGE killed (SIGKILL)
# at a random point of a run; a kill that finds the stage already gone is
# drawn again (at most 3N draws).  Checks every trial, prints the counts.
kill_trials() {
	local stage=$1 n=$2 done=0 draws=0 late=0 whole=0 key sh pid delay st
	while [ "$done" -lt "$n" ] && [ "$draws" -lt $((3 * n)) ]; do
		draws=$((draws + 1))
		key=kill/$stage/$draws.dump.gz.age
		timeout 120 sh -c 'bk-dump -q db | bk-gz -q | bk-crypt -q -r "$RCPT" | bk-s3put -q "$1" > /dev/null' \
		    sh "s3://faults/$key" 2> "$T/err" &
		sh=$!
		track "$sh"
		# a quarter of the kills in the first 50 ms, the rest anywhere
		if [ $((RANDOM % 4)) -eq 0 ]; then
			delay=$((RANDOM % 50))
		else
			delay=$((RANDOM % (DUR_MS * 9 / 10)))
		fi
		sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
		pid=$(stage_pid "$sh" "$stage")
		if [ -z "$pid" ] || ! kill -KILL "$pid" 2> /dev/null; then
			wait "$sh" || true
			late=$((late + 1))
			bk-prune -q --keep-last 1000 --abort-incomplete 1s "s3://faults/kill/$stage/" > /dev/null 2>&1 || true
			aws --endpoint-url "$AWS_ENDPOINT_URL" s3 rm --quiet --recursive \
			    "s3://faults/kill/$stage/" > /dev/null 2>&1 || true
			continue
		fi
		st=0
		wait "$sh" || st=$?
		[ "$st" -ne 124 ] || fail "trial $draws: the pipeline hung" || return 1
		bk-s3ls -a "s3://faults/$key" > "$T/ls"
		if [ "$st" -eq 0 ]; then
			# The kill came after the stage had recorded its
			# success (the seal), on its way out: the pipeline
			# succeeds, and what it stored must be whole.  Drawn
			# again, as a kill that found the stage gone.
			[ -s "$T/ls" ] ||
			    fail "trial $draws ($stage killed after ${delay} ms): exit 0, nothing stored" ||
			    return 1
			whole_backup "s3://faults/$key" ||
			    fail "trial $draws ($stage killed after ${delay} ms): exit 0, and the object is not whole" ||
			    return 1
			late=$((late + 1))
			aws --endpoint-url "$AWS_ENDPOINT_URL" s3 rm --quiet --recursive \
			    "s3://faults/kill/$stage/" > /dev/null
			continue
		fi
		if [ -s "$T/ls" ]; then
			# Only bk-s3put itself, killed between completing the
			# object and exiting, may leave one, and it must be whole.
			[ "$stage" = bk-s3put ] ||
			    fail "trial $draws ($stage killed after ${delay} ms): stored: $(cat "$T/ls")" ||
			    return 1
			whole_backup "s3://faults/$key" ||
			    fail "trial $draws: bk-s3put killed after committing, and the object is not whole" ||
			    return 1
			whole=$((whole + 1))
			aws --endpoint-url "$AWS_ENDPOINT_URL" s3 rm --quiet --recursive \
			    "s3://faults/kill/$stage/" > /dev/null
		fi
		done=$((done + 1))
	done
	[ "$done" -eq "$n" ] ||
	    fail "$stage: only $done trials in $draws draws (the stage ended before the kill)" ||
	    return 1
	# Killed outright, bk-s3put cannot abort its upload: bk-prune does.
	if [ "$stage" = bk-s3put ]; then
		# Swift rounds an upload's start time up to the next second
		sleep 3.1
		bk-prune -q --keep-last 1000 --abort-incomplete 1s "s3://faults/kill/$stage/" > "$T/pruned" ||
		    fail "bk-prune --abort-incomplete failed" || return 1
		# A bk-s3put killed with its request to complete the
		# upload on the way: the server may finish that after the
		# trial looked.  Such an object is a commit like the others
		# above, and must be whole.
		bk-s3ls "s3://faults/kill/$stage/" | awk '{ print $3 }' > "$T/late"
		while read -r url; do
			whole_backup "$url" < /dev/null ||
			    fail "$url: completed after its bk-s3put was killed, and not whole" ||
			    return 1
			whole=$((whole + 1))
		done < "$T/late"
		if [ -s "$T/late" ]; then
			aws --endpoint-url "$AWS_ENDPOINT_URL" s3 rm --quiet --recursive \
			    "s3://faults/kill/$stage/" > /dev/null
		fi
	fi
	[ -z "$(uploads "kill/$stage/")" ] ||
	    fail "$stage: uploads left behind: $(uploads "kill/$stage/")" || return 1
	[ -z "$(bk-s3ls -a "s3://faults/kill/$stage/")" ] ||
	    fail "$stage: objects left: $(bk-s3ls -a "s3://faults/kill/$stage/")" || return 1
	not_fresh "kill/$stage/" || return 1
	echo "# $stage killed: $done trials, all non-zero with nothing stored" \
	    "($late draws found it gone or done; $whole killed after a complete commit)" >&3
}

trials=${BK_FAULT_TRIALS:-20}

@test "control: a clean run stores a backup that restores and that bk-age calls fresh" {
	run bk-age -w 25h -c 49h --min-size 1K s3://faults/clean/
	[ "$status" -eq 0 ] || fail "bk-age: exit $status: $output"
	bk-s3get -q s3://faults/clean/db.dump.gz.age | age -d -i "$W/id.txt" |
	    gzip -dc | pg_restore -l > "$T/toc" || fail "not a backup"
	grep -q 'TABLE DATA public t ' "$T/toc" || fail "no table data"
	whole_backup s3://faults/clean/db.dump.gz.age ||
	    fail "not every row: $(cat "$T/rows") of $ROWS"
	[ -z "$(uploads clean/)" ] || fail "uploads left: $(uploads clean/)"
}

@test "bk-dump killed at random points: non-zero, nothing stored, no upload left" {
	kill_trials bk-dump "$trials"
}

@test "bk-gz killed at random points: non-zero, nothing stored, no upload left" {
	kill_trials bk-gz "$trials"
}

@test "bk-crypt killed at random points: non-zero, nothing stored, no upload left" {
	kill_trials bk-crypt "$trials"
}

@test "bk-s3put killed at random points: non-zero, nothing stored; bk-prune aborts its upload" {
	kill_trials bk-s3put "$trials"
}

@test "the S3 server stopped mid-upload: non-zero, and after it is back nothing is stored" {
	local st gz
	BK_S3_RETRIES=2 timeout 120 sh -c 'bk-dump -q db | bk-gz -q | bk-crypt -q -r "$RCPT" | bk-s3put -v -v --part-size 5M "$1" > /dev/null' \
	    sh s3://faults/down/db.dump.gz.age 2> "$T/err" &
	pid=$!
	track "$pid"
	# once the first part is on its way, hold the stream (bk-gz stopped),
	# stop the server, and let the stream go on into a store that is gone
	gz=$(stage_pid "$pid" bk-gz)
	[ -n "$gz" ] || fail "no bk-gz"
	for _ in $(seq 1 500); do
		grep -q '^bk-s3put: PUT s3://faults/down/' "$T/err" && break
		sleep 0.01
	done
	kill -STOP "$gz"
	grep -q '^bk-s3put: PUT s3://faults/down/' "$T/err" || { kill -CONT "$gz"; fail "no part was sent: $(tail -n 3 "$T/err")"; }
	"$BK_ROOT/t/s3server.sh" stop "$W/s3"
	kill -CONT "$gz"
	st=0
	wait "$pid" || st=$?
	[ "$st" -ne 0 ] || fail "exit 0 with the server down"
	[ "$st" -ne 124 ] || fail "the pipeline hung"
	"$BK_ROOT/t/s3server.sh" start "$W/s3"
	# shellcheck disable=SC1091
	. "$W/s3/env"
	[ -z "$(bk-s3ls -a s3://faults/down/)" ] || fail "stored: $(bk-s3ls -a s3://faults/down/)"
	not_fresh down/
	# the upload it could not abort (the server was gone) is aborted by
	# bk-prune (Swift rounds its start time up to the next second)
	sleep 3.1
	bk-prune -q --keep-last 1000 --abort-incomplete 1s s3://faults/down/ > /dev/null
	[ -z "$(uploads down/)" ] || fail "uploads left: $(uploads down/)"
	echo "# server stopped mid-upload: exit $st ($(grep -v '^bk-s3put: [A-Z]* ' "$T/err" | tail -n 1)); nothing stored" >&3
}

@test "a full disk under a file destination: non-zero, no file, no temporary file" {
	local st
	mkdir -p "$W/full"
	mount -t tmpfs -o size=4m tmpfs "$W/full" 2> /dev/null ||
	    skip "cannot mount a tmpfs (not root?)"
	st=0
	timeout 120 sh -c 'bk-dump -q db | bk-gz -q | bk-crypt -q -r "$RCPT" | bk-s3put -q "$1" > /dev/null' \
	    sh "$W/full/backups/db.dump.gz.age" 2> "$T/err" || st=$?
	[ "$st" -ne 0 ] || fail "exit 0 on a full disk"
	[ "$st" -ne 124 ] || fail "the pipeline hung"
	grep -q 'No space left on device' "$T/err" || fail "no ENOSPC message: $(cat "$T/err")"
	[ ! -e "$W/full/backups/db.dump.gz.age" ] || fail "the file exists"
	[ -z "$(ls -A "$W/full/backups" 2> /dev/null)" ] ||
	    fail "left behind: $(ls -A "$W/full/backups")"
	run bk-age -w 25h -c 49h --min-size 1K "$W/full/backups/"
	[ "$status" -ne 0 ] || fail "bk-age says OK: $output"
	umount "$W/full"
	echo "# disk full: exit $st; nothing left" >&3
}

@test "a wrong key: the restore fails, writes no file, and no stage reports success" {
	local st
	bk-crypt --keygen -o "$T/other.txt" 2> /dev/null
	st=0
	sh -c 'bk-s3get -q s3://faults/clean/db.dump.gz.age | bk-crypt -q -d -i "$1" | bk-gz -q -d > "$2"' \
	    sh "$T/other.txt" "$T/out" 2> "$T/err" || st=$?
	expect_eq "$st" 4 "exit status (bk-gz -d after a failed bk-crypt)"
	grep -q '^bk-crypt: no identity matches' "$T/err" ||
	    fail "bk-crypt's message: $(cat "$T/err")"
	# the output is not a dump: a shell that ignores $? still cannot use it
	! pg_restore -l "$T/out" > /dev/null 2>&1 || fail "the output restores"
	# bk-s3get -o leaves nothing either, with a failed check downstream
	run bk-s3get -q -o "$T/dl" s3://faults/clean/nosuch.dump.gz.age
	[ "$status" -eq 1 ] || fail "bk-s3get -o of a missing key: $status"
	[ -z "$(find "$T" -name '.dl.*')" ] && [ ! -e "$T/dl" ] || fail "bk-s3get -o left a file"
}

@test "a truncated object: every stage after it fails, bk-verify says FAIL, bk-age is not fooled" {
	local size st
	bk-s3get -q -o "$T/good" s3://faults/clean/db.dump.gz.age
	size=$(fsize "$T/good")
	head -c $((size * 2 / 3)) "$T/good" > "$T/cut"
	# stored as it is, without bk (no record to check it against)
	aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --quiet "$T/cut" \
	    s3://faults/cut/db-20261122T020000Z.dump.gz.age
	st=0
	sh -c 'bk-s3get -q s3://faults/cut/db-20261122T020000Z.dump.gz.age |
	    bk-crypt -q -d -i "$1" | bk-gz -q -d > "$2"' sh "$W/id.txt" "$T/out" \
	    2> "$T/err" || st=$?
	expect_eq "$st" 4 "exit status of bk-gz -d after bk-crypt failed"
	! pg_restore -f /dev/null "$T/out" 2> /dev/null || fail "what came out restores"
	grep -q '^bk-crypt: ' "$T/err" || fail "bk-crypt did not say: $(cat "$T/err")"
	run sh -c 'bk-s3get -q "$1" | bk-verify -i "$2"' sh \
	    s3://faults/cut/db-20261122T020000Z.dump.gz.age "$W/id.txt"
	[ "$status" -eq 1 ] || fail "bk-verify: exit $status: $output"
	[[ $output == FAIL* ]] || fail "bk-verify: $output"
	# it is large enough to pass for a backup by its size; stored
	# without the seal, it is not one
	run bk-age -w 25h -c 49h --min-size 1K --require-sealed s3://faults/cut/
	[ "$status" -eq 2 ] || fail "bk-age --require-sealed: exit $status: $output"
	echo "# truncated object: restore exit $st, bk-verify FAIL" >&3
}
