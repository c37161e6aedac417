#!/usr/bin/env bats
# bk-prune on a directory and on a real S3 server (Swift with s3api,
# t/s3server.sh): a two-year daily history under the 30/12/12/7 policy
# leaves exactly the backups an independent model keeps; safety rules
# (empty policy, --match, the newest, --min-keep, failed listings); dry
# runs that explain; listings on stdin; records and incomplete uploads.

load helper

setup_file() {
	S3DIR=$(mktemp -d /tmp/bk-prune-t.XXXXXX)
	export S3DIR
	"$BK_ROOT/t/s3server.sh" start "$S3DIR/srv" || return 1
	"$BK_ROOT/t/s3server.sh" mb "$S3DIR/srv" bk-prune-t || return 1
}

teardown_file() {
	"$BK_ROOT/t/s3server.sh" stop "$S3DIR/srv" || true
	rm -rf "$S3DIR"
}

AWS() {
	/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"
}

# history DIR DAYS: one backup a day at 02:00 UTC for DAYS days up to
# 2026-11-21, named db-YYYYMMDDT020000Z.dump, with that modification
# time; and a file that is not a backup.
history() {
	"$PY" - "$1" "$2" <<-'EOF'
	import datetime, os, sys
	d, days = sys.argv[1], int(sys.argv[2])
	os.makedirs(d, exist_ok=True)
	end = datetime.datetime(2026, 11, 21, 2, 0, tzinfo=datetime.timezone.utc)
	for i in range(days):
	    t = end - datetime.timedelta(days=i)
	    p = os.path.join(d, t.strftime("db-%Y%m%dT%H%M%SZ.dump"))
	    with open(p, "w") as f:
	        f.write("backup %d\n" % i)
	    os.utime(p, (t.timestamp(), t.timestamp()))
	with open(os.path.join(d, "README"), "w") as f:
	    f.write("not a backup\n")
	os.utime(os.path.join(d, "README"), (0, 0))
	EOF
}

# expected DAYS: the names the 30/12/12/7 policy keeps, by a model of the
# rules written apart from lib/retain: newest first, each rule keeps the
# newest backup of each of its N most recent periods that have one.
expected() {
	"$PY" - "$1" <<-'EOF'
	import datetime, sys
	days = int(sys.argv[1])
	end = datetime.datetime(2026, 11, 21, 2, 0)
	objs = [end - datetime.timedelta(days=i) for i in range(days)]
	rules = [(lambda t: t.date(), 30),
	         (lambda t: t.isocalendar()[:2], 12),
	         (lambda t: (t.year, t.month), 12),
	         (lambda t: t.year, 7)]
	kept = set()
	for key, n in rules:
	    last, used = None, 0
	    for t in objs:
	        if used == n:
	            break
	        if key(t) != last:
	            kept.add(t)
	            last, used = key(t), used + 1
	for t in sorted(kept):
	    print(t.strftime("db-%Y%m%dT%H%M%SZ.dump"))
	EOF
}

POLICY="--keep-daily 30 --keep-weekly 12 --keep-monthly 12 --keep-yearly 7"

@test "a directory: two years of dailies under 30/12/12/7 leave exactly the model's set" {
	history "$T/b" 730
	expected 730 > "$T/want"
	# the model keeps 30 + 12 weekly + 12 monthly + 2 yearly, overlapping
	[ "$(wc -l < "$T/want")" -gt 40 ] || fail "model: $(cat "$T/want")"
	# shellcheck disable=SC2086
	run bk-prune -v $POLICY --match 'db-*.dump' "$T/b/"
	expect_status 0
	(cd "$T/b" && ls db-*) > "$T/got"
	expect_eq "$(cat "$T/got")" "$(cat "$T/want")" "what remains"
	[ -f "$T/b/README" ] || fail "a file that is not a backup was deleted"
	# stdout lists what was deleted, as a listing
	expect_eq "$(grep -c ' /' <<< "$output")" \
	    "$((730 - $(wc -l < "$T/want")))" "deleted lines"
	[[ $output == *"other objects left alone"* ]] || fail "$output"
	# a second run finds nothing to delete
	# shellcheck disable=SC2086
	run bk-prune $POLICY --match 'db-*.dump' "$T/b/"
	expect_status 0
	expect_eq "$output" "" "the second run deletes nothing"
}

@test "Swift: the same history, times from the names, records go with their objects" {
	# shellcheck disable=SC1091
	. "$S3DIR/srv/env"
	history "$T/b" 730
	rm "$T/b/README"
	AWS s3 sync --only-show-errors "$T/b/" s3://bk-prune-t/h/ ||
	    fail "aws s3 sync"
	echo keep-me | bk-s3put s3://bk-prune-t/h/notes.txt > /dev/null
	# an old multipart backup with its record
	mkdata_random "$T/big" $((7 * MiB))
	bk-s3put "s3://bk-prune-t/h/db-20241201T020000Z.dump" < "$T/big" \
	    > /dev/null
	expected 730 > "$T/want"
	# shellcheck disable=SC2086
	run bk-prune $POLICY --time-from-name --match 'db-*.dump' \
	    s3://bk-prune-t/h/
	expect_status 0
	bk-s3ls -a s3://bk-prune-t/h/ | sed 's|.*/h/||' | grep '^db-' |
	    sort > "$T/got"
	expect_eq "$(cat "$T/got")" "$(cat "$T/want")" "what remains on S3"
	bk-s3ls s3://bk-prune-t/h/ | grep -q 'notes.txt$' ||
	    fail "notes.txt was deleted"
	run bk-s3ls -a s3://bk-prune-t/h/db-20241201
	expect_eq "$output" "" "the multipart backup and its record are gone"
}

@test "dry run: every backup with keep or delete and why; nothing deleted" {
	history "$T/b" 20
	run bk-prune -n --keep-daily 3 --keep-weekly 2 --match 'db-*' "$T/b/"
	expect_status 0
	expect_eq "$(wc -l <<< "$output")" 20 "one line per backup"
	expect_eq "$(head -n 1 <<< "$output")" \
	    "keep   2026-11-21T02:00:00Z 9 $T/b/db-20261121T020000Z.dump (daily 2026-11-21, weekly 2026-W47)" \
	    "the newest first, with its reasons"
	grep -q "^delete 2026-11-20T02:00:00Z 9 $T/b/db-20261120T020000Z.dump\$" \
	    <<< "$output" && fail "2026-11-20 is kept by --keep-daily 3"
	grep -q "^delete 2026-11-18T02:00:00Z .*db-20261118T020000Z.dump\$" \
	    <<< "$output" || fail "2026-11-18 is deleted: $output"
	grep -q "^keep   2026-11-15T02:00:00Z .*(weekly 2026-W46)\$" \
	    <<< "$output" || fail "the newest of W46 is kept: $output"
	expect_eq "$(ls "$T/b" | wc -l)" 21 "nothing deleted"
}

@test "a listing on stdin: prints what to delete, deletes nothing; refuses a broken one" {
	history "$T/b" 10
	run sh -c "bk-s3ls '$T/b/' | bk-prune --keep-last 4 --match 'db-*' -"
	expect_status 0
	expect_eq "$(wc -l <<< "$output")" 6 "six to delete"
	grep -q '^2026-11-12T02:00:00Z [0-9]* .*db-20261112T020000Z.dump$' \
	    <<< "$output" || fail "listing lines: $output"
	expect_eq "$(ls "$T/b" | wc -l)" 11 "nothing deleted"
	# a lister that failed: the listing may be cut short
	run sh -c "bk-s3ls '$T/nonexistent/' | bk-prune --keep-last 4 -"
	expect_status 4
	[[ $output == *"upstream failed"* ]] || fail "message: $output"
	# a last line without its newline
	bk-s3ls "$T/b/" | head -c -1 > "$T/cut"
	run bk-prune --keep-last 4 - < "$T/cut"
	expect_status 1
	[[ $output == *"cut short"* ]] || fail "message: $output"
	run bk-prune --keep-last 4 - <<< "not a listing"
	expect_status 1
}

@test "safety: empty policy, the newest always, --min-keep, unlistable locations" {
	history "$T/b" 10
	run bk-prune "$T/b/"
	expect_status 2
	[[ $output == *"empty retention policy"* ]] || fail "$output"
	run bk-prune --min-keep 3 "$T/b/"
	expect_status 2
	# --keep-within from the newest backup, not from now: all ten are
	# years... no: within 2 days of 2026-11-21 keeps three
	run bk-prune --keep-within 2d --match 'db-*' "$T/b/"
	expect_status 0
	expect_eq "$(ls "$T/b" | grep -c db-)" 3 "within 2d of the newest"
	history "$T/c" 10
	run bk-prune --keep-hourly 1 --min-keep 5 --match 'db-*' "$T/c/"
	expect_status 0
	expect_eq "$(ls "$T/c" | grep -c db-)" 5 "--min-keep 5"
	expect_eq "$(ls "$T/c" | grep db- | tail -n 1)" \
	    db-20261121T020000Z.dump "the newest is among them"
	run bk-prune --keep-last 1 "$T/nonexistent/"
	expect_status 1
	[[ $output == *"nothing deleted"* ]] || fail "$output"
	run bk-prune --keep-last 1 --tz Mars/Olympus "$T/c/"
	expect_status 2
	# a name without a time under --time-from-name: refused, not guessed
	touch "$T/c/db-latest"
	run bk-prune --keep-last 1 --time-from-name --match 'db-*' "$T/c/"
	expect_status 2
	expect_eq "$(ls "$T/c" | grep -c db-)" 6 "nothing deleted"
}

@test "--tz: days are counted in the zone given" {
	mkdir -p "$T/b"
	# 22:30 and 23:30 UTC on 2026-07-01 are 00:30 and 01:30 on 07-02 in
	# Berlin: one day in UTC, two there
	for t in 2026-07-01T22:30:00Z 2026-07-01T23:30:00Z 2026-07-01T12:00:00Z
	do
		f="$T/b/db-$t"
		echo x > "$f"
		touch -d "$t" "$f"
	done
	run bk-prune -n --keep-daily 5 "$T/b/"
	expect_eq "$(grep -c '^keep' <<< "$output")" 1 "UTC: all on 07-01"
	run bk-prune -n --keep-daily 5 --tz Europe/Berlin "$T/b/"
	expect_eq "$(grep -c '^keep' <<< "$output")" 2 "Berlin: one per day"
	grep -q "^keep .*T23:30:00Z.*daily 2026-07-02" <<< "$output" ||
	    fail "23:30Z is 2026-07-02 in Berlin: $output"
	grep -q "^keep .*T12:00:00Z.*daily 2026-07-01" <<< "$output" ||
	    fail "12:00Z is 2026-07-01 in Berlin: $output"
}

# uploads_listed KEY...: every KEY has a multipart upload listed.
uploads_listed() {
	local have k
	have=$(AWS s3api list-multipart-uploads --bucket bk-prune-t \
	    --query 'Uploads[].Key' --output text)
	for k in "$@"; do
		[[ " $have " == *"$k"* ]] || return 1
	done
}

@test "--abort-incomplete: aborts uploads older than the age, not newer ones" {
	# shellcheck disable=SC1091
	. "$S3DIR/srv/env"
	AWS s3api create-multipart-upload --bucket bk-prune-t --key a/old \
	    > /dev/null
	sleep 3
	AWS s3api create-multipart-upload --bucket bk-prune-t --key a/new \
	    > /dev/null
	echo x | bk-s3put s3://bk-prune-t/a/db-1 > /dev/null
	# Swift updates its listings asynchronously under load
	wait_for 20 uploads_listed a/old a/new
	run bk-prune -v --keep-last 1 --abort-incomplete 2s s3://bk-prune-t/a/
	expect_status 0
	[[ $output == *"aborted upload of a/old"* ]] || fail "$output"
	left=$(AWS s3api list-multipart-uploads --bucket bk-prune-t \
	    --prefix a/ --query 'Uploads[].Key' --output text)
	expect_eq "$left" "a/new" "the new upload stays"
	run bk-prune --keep-last 1 --abort-incomplete 1s - < /dev/null
	expect_status 2
}

@test "usage: exit 2 with a usage line; -h and -V" {
	for args in "" "--keep-daily x /tmp" "--keep-daily 1" \
	    "--keep-daily 1 a b" "--keep-within 0 /tmp" "--bogus /tmp"; do
		# shellcheck disable=SC2086
		run bk-prune $args
		[ "$status" -eq 2 ] || fail "bk-prune $args: exit $status"
		[[ $output == *"usage: bk-prune"* ]] ||
		    fail "bk-prune $args: $output"
	done
	run bk-prune -h
	expect_status 0
	run bk-prune -V
	expect_status 0
}
