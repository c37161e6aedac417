#!/usr/bin/env bats
# bk-s3put, bk-s3get and bk-s3ls against a real S3-compatible server
# (OpenStack Swift with s3api, t/s3server.sh, one per file): round trips
# at the part boundaries and of a stream of many parts, awkward keys,
# interoperability with aws, s3cmd and rclone both ways, the recorded
# size and SHA-256, the seal, signals, --no-clobber, listings, -o and
# --latest, and the error cases.

load helper

setup_file() {
	S3DIR=$(mktemp -d /tmp/bk-s3-t.XXXXXX)
	export S3DIR
	"$BK_ROOT/t/s3server.sh" start "$S3DIR/srv" || return 1
	"$BK_ROOT/t/s3server.sh" mb "$S3DIR/srv" bk-test bk-other || return 1
}

teardown_file() {
	"$BK_ROOT/t/s3server.sh" stop "$S3DIR/srv" || true
	rm -rf "$S3DIR"
}

setup() {
	bk_setup
	# shellcheck disable=SC1091
	. "$S3DIR/srv/env"
	# every test its own prefix
	P="t$BATS_TEST_NUMBER"
}

AWS() {
	/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"
}

# uploads_left PREFIX: the multipart uploads in progress under PREFIX.
uploads_left() {
	AWS s3api list-multipart-uploads --bucket bk-test --prefix "$1" \
	    --query 'Uploads[].Key' --output text
}

# expect_no_object KEY [WHAT]: nothing at KEY, no upload under it.
expect_no_object() {
	local left
	if AWS s3api head-object --bucket bk-test --key "$1" > /dev/null 2>&1
	then
		fail "${2:-}: s3://bk-test/$1 exists"
		return 1
	fi
	left=$(uploads_left "$1")
	[ "$left" = None ] || [ -z "$left" ] ||
	    fail "${2:-}: multipart uploads left behind: $left"
}

# meta KEY NAME: the x-amz-meta-NAME of an object.
meta() {
	AWS s3api head-object --bucket bk-test --key "$1" \
	    --query "Metadata.\"$2\"" --output text
}

# roundtrip SIZE: store SIZE random bytes, read them back three ways.
roundtrip() {
	local n=$1 key="$P/obj-$1" want line
	mkdata_random "$T/in" "$n"
	want=$(sha < "$T/in")
	run bk-s3put "s3://bk-test/$key" < "$T/in"
	[ "$status" -eq 0 ] || fail "$n bytes: bk-s3put exit $status: $output"
	line="$want $n s3://bk-test/$key"
	expect_eq "$output" "$line" "$n bytes: bk-s3put's line"
	bk-s3get "s3://bk-test/$key" > "$T/out" 2> "$T/err" ||
	    fail "$n bytes: bk-s3get: $(cat "$T/err")"
	expect_same "$T/out" "$T/in" "$n bytes: bk-s3get"
	AWS s3 cp "s3://bk-test/$key" - > "$T/out2" 2> "$T/err" ||
	    fail "$n bytes: aws s3 cp: $(cat "$T/err")"
	expect_same "$T/out2" "$T/in" "$n bytes: aws"
	if [ "$n" -lt $((6 * MiB)) ]; then
		expect_eq "$(meta "$key" bk-sha256)" "$want" "$n: bk-sha256"
		expect_eq "$(meta "$key" bk-size)" "$n" "$n: bk-size"
		expect_eq "$(meta "$key" bk-seal)" none "$n: bk-seal"
	else
		AWS s3 cp "s3://bk-test/$key.sha256" - > "$T/rec" 2>/dev/null ||
		    fail "$n bytes: no record $key.sha256"
		expect_eq "$(cat "$T/rec")" "$want  obj-$n" "$n: the record"
		(cd "$T" && cp in "obj-$n" && sha256sum -c --quiet rec) ||
		    fail "$n: sha256sum -c does not accept the record"
		expect_eq "$(meta "$key.sha256" bk-record-size)" "$n" \
		    "$n: bk-record-size"
	fi
}

@test "round trips at the part boundaries: 0, 1, 5 MiB, 6 MiB +-1, three parts" {
	for n in 0 1 $((5 * MiB)) $((6 * MiB - 1)) $((6 * MiB)) \
	    $((6 * MiB + 1)) $((13 * MiB))
	do
		roundtrip "$n"
	done
	# one PUT below the first part; a multipart upload from it on
	expect_eq "$(AWS s3api head-object --bucket bk-test \
	    --key "$P/obj-$((6 * MiB + 1))" --query ETag --output text)" \
	    "$(AWS s3api head-object --bucket bk-test \
	    --key "$P/obj-$((6 * MiB + 1))" --query ETag --output text |
	    grep -- '-2"$')" "6 MiB + 1: two parts"
}

@test "a 150 MiB stream from a pipe, 4 parts in flight, in bounded memory" {
	want=$(head -c $((150 * MiB)) /dev/urandom | tee "$T/in" | sha)
	run /usr/bin/time -o "$T/rss" -f %M bk-s3put -j 4 \
	    "s3://bk-test/$P/big" < <(cat "$T/in")
	[ "$status" -eq 0 ] || fail "bk-s3put: $output"
	expect_eq "$(head -n 1 <<< "$output")" \
	    "$want $((150 * MiB)) s3://bk-test/$P/big" "the line"
	rss=$(tail -n 1 "$T/rss")
	# (4 + 1) parts of 6 MiB, and the program around them
	[ "$rss" -lt "$(rss_max $((5 * 6 * 1024 + 24 * 1024)))" ] ||
	    fail "bk-s3put used $rss KiB"
	expect_eq "$(bk-s3get "s3://bk-test/$P/big" | sha)" "$want" "bk-s3get"
	expect_eq "$(AWS s3 cp "s3://bk-test/$P/big" - | sha)" "$want" "aws"
	expect_eq "$(uploads_left "$P/")" None "no upload left"
}

@test "awkward keys: spaces, +, %, unicode, //, a trailing dot" {
	mkdata_random "$T/in" 3000
	for key in "a b/c+d" "pct%20x%2F" "ünï/cödé ☃" "double//slash" \
	    "x=1&y=2;z" "end." "tilde~(paren)*'q'"; do
		# the location is a template: a literal % is written %%
		run bk-s3put "s3://bk-test/$P/${key//%/%%}" < "$T/in"
		[ "$status" -eq 0 ] || fail "'$key': $output"
		bk-s3get "s3://bk-test/$P/$key" > "$T/out" ||
		    fail "'$key': bk-s3get failed"
		expect_same "$T/out" "$T/in" "'$key': bk-s3get"
		AWS s3api get-object --bucket bk-test --key "$P/$key" \
		    "$T/out2" > /dev/null || fail "'$key': aws get-object"
		expect_same "$T/out2" "$T/in" "'$key': aws"
	done
	# the listing shows every key as it is
	bk-s3ls "s3://bk-test/$P/" | cut -d ' ' -f 3- > "$T/keys"
	grep -qxF "s3://bk-test/$P/ünï/cödé ☃" "$T/keys" ||
	    fail "unicode key not listed as is: $(cat "$T/keys")"
	grep -qxF "s3://bk-test/$P/double//slash" "$T/keys" ||
	    fail "// not kept: $(cat "$T/keys")"
	expect_eq "$(wc -l < "$T/keys")" 7 "seven keys listed"
}

@test "aws, s3cmd and rclone read what bk-s3put wrote; bk-s3get reads theirs" {
	skip_unless s3cmd
	skip_unless rclone
	mkdata_random "$T/in" $((7 * MiB + 3))
	bk-s3put "s3://bk-test/$P/by-bk" < "$T/in" > /dev/null
	s3cmd -q get "s3://bk-test/$P/by-bk" "$T/s3cmd.out" ||
	    fail "s3cmd get"
	expect_same "$T/s3cmd.out" "$T/in" "s3cmd reads bk-s3put"
	rclone cat "bks3:bk-test/$P/by-bk" > "$T/rclone.out" ||
	    fail "rclone cat"
	expect_same "$T/rclone.out" "$T/in" "rclone reads bk-s3put"

	AWS s3 cp "$T/in" "s3://bk-test/$P/by-aws" > /dev/null
	s3cmd -q put "$T/in" "s3://bk-test/$P/by-s3cmd"
	rclone copyto "$T/in" "bks3:bk-test/$P/by-rclone"
	for who in aws s3cmd rclone; do
		run bk-s3get -v "s3://bk-test/$P/by-$who"
		[ "$status" -eq 0 ] || fail "bk-s3get of $who's object: $status"
		bk-s3get "s3://bk-test/$P/by-$who" > "$T/out"
		expect_same "$T/out" "$T/in" "bk-s3get reads $who's object"
		[[ $output == *"not checked"* ]] ||
		    fail "-v should say $who's object had no record: $output"
	done
}

@test "a size or SHA-256 that does not match the record: exit 1" {
	mkdata_random "$T/in" 1000
	AWS s3 cp "$T/in" "s3://bk-test/$P/bad-sha" --metadata \
	    "bk-size=1000,bk-sha256=$(printf '0%.0s' {1..64})" > /dev/null
	run bk-s3get "s3://bk-test/$P/bad-sha"
	expect_status 1
	[[ $output == *"SHA-256 mismatch"* ]] || fail "message: $output"
	AWS s3 cp "$T/in" "s3://bk-test/$P/bad-size" --metadata \
	    "bk-size=999,bk-sha256=$(sha < "$T/in")" > /dev/null
	run bk-s3get -o "$T/file" "s3://bk-test/$P/bad-size"
	expect_status 1
	[ ! -e "$T/file" ] || fail "-o left a file after a failed check"
	[ -z "$(ls -A "$T" | grep bk-tmp)" ] || fail "a temp file is left"
	# a multipart object replaced behind bk's back: its record disagrees
	mkdata_random "$T/big" $((7 * MiB))
	bk-s3put "s3://bk-test/$P/mp" < "$T/big" > /dev/null
	AWS s3 cp "$T/in" "s3://bk-test/$P/mp" > /dev/null
	run bk-s3get "s3://bk-test/$P/mp"
	expect_status 1
	[[ $output == *"were stored"* ]] || fail "message: $output"
}

@test "seal: a failed bk upstream stores nothing, small or multipart" {
	mkdata_text "$T/txt" $((30 * MiB))
	bk-gz < "$T/txt" > "$T/x.gz"
	head -c 1000 "$T/x.gz" > "$T/short.gz"
	run sh -c "bk-gz -d < '$T/short.gz' | bk-s3put 's3://bk-test/$P/small'"
	expect_status 4
	expect_no_object "$P/small" "small"
	# most of the stream, then the failure: the upload is aborted
	head -c $(($(fsize "$T/x.gz") - 100)) "$T/x.gz" > "$T/cut.gz"
	run sh -c "bk-gz -d < '$T/cut.gz' | bk-s3put 's3://bk-test/$P/mp'"
	expect_status 4
	[[ $output == *"upstream failed"* ]] || fail "message: $output"
	expect_no_object "$P/mp" "multipart"
	# and the same chain whole: stored, recorded as sealed
	run sh -c "bk-gz -d < '$T/x.gz' | bk-s3put 's3://bk-test/$P/ok'"
	expect_status 0
	bk-s3get -v "s3://bk-test/$P/ok" > "$T/out" 2> "$T/err"
	expect_same "$T/out" "$T/txt" "the sealed stream"
	expect_eq "$(meta "$P/ok.sha256" bk-record-seal)" ok "recorded seal"
}

@test "seal: kill -9 of the upstream mid-stream leaves no object and no upload" {
	mkdata_random "$T/txt" $((40 * MiB))
	bk-gz -1 < "$T/txt" > "$T/x.gz"
	for i in 1 2 3; do
		# a slow upstream bk-gz -d, killed once it is well under way
		(st=0
		pv_slow < "$T/x.gz" | bk-gz -d |
		    bk-s3put "s3://bk-test/$P/k$i" > "$T/o$i" 2> "$T/e$i" ||
		    st=$?
		echo "$st" > "$T/st$i") &
		sleep 0.$((3 + i))
		pkill -9 -f "^bk-gz -d$" || true
		wait
		expect_eq "$(cat "$T/st$i")" 4 \
		    "trial $i: bk-s3put's status ($(cat "$T/e$i"))"
		expect_no_object "$P/k$i" "trial $i"
	done
}

# pv_slow: copy stdin to stdout at about 20 MiB/s.
pv_slow() {
	local c
	c=$(mktemp "$T/chunk.XXXXXX")
	while dd bs=2M count=1 iflag=fullblock status=none > "$c" &&
	    [ -s "$c" ]; do
		cat "$c" || return 1
		sleep 0.1
	done
}

@test "SIGTERM and SIGINT abort the upload: no object, no upload" {
	for sig in TERM INT; do
		(head -c $((20 * MiB)) /dev/urandom; sleep 30) |
		    bk-s3put "s3://bk-test/$P/$sig" > "$T/out" 2> "$T/err" &
		pid=$!
		wait_for 20 uploads_started "$P/$sig"
		pkill "-$sig" -f "bk-s3put s3://bk-test/$P/$sig" || true
		st=0
		wait "$pid" || st=$?
		[ "$st" -ne 0 ] || fail "$sig: exit 0"
		expect_no_object "$P/$sig" "$sig"
		pkill -f "sleep 30" || true
	done
}

# uploads_started PREFIX: a multipart upload under PREFIX is in progress.
uploads_started() {
	local u
	u=$(uploads_left "$1")
	[ -n "$u" ] && [ "$u" != None ]
}

@test "--no-clobber: Swift has no conditional writes; =check refuses an existing key" {
	echo one > "$T/one"
	echo two > "$T/two"
	run bk-s3put --no-clobber "s3://bk-test/$P/x" < "$T/one"
	expect_status 3
	[[ $output == *"conditional writes"*"--no-clobber=check"* ]] ||
	    fail "message: $output"
	expect_no_object "$P/x" "refused"
	run bk-s3put --no-clobber=check "s3://bk-test/$P/x" < "$T/one"
	expect_status 0
	run bk-s3put --no-clobber=check "s3://bk-test/$P/x" < "$T/two"
	expect_status 1
	[[ $output == *"exists (--no-clobber)"* ]] || fail "message: $output"
	expect_eq "$(bk-s3get "s3://bk-test/$P/x")" one "the first one stays"
}

@test "bk-s3ls: TIME SIZE URL in key order, all pages, records hidden unless -a" {
	for k in b a c/d c/e; do
		printf '%s' "$k" | bk-s3put "s3://bk-test/$P/$k" > /dev/null
	done
	mkdata_random "$T/big" $((7 * MiB))
	bk-s3put "s3://bk-test/$P/m" < "$T/big" > /dev/null
	run bk-s3ls "s3://bk-test/$P/"
	expect_status 0
	expect_eq "$(cut -d ' ' -f 2- <<< "$output")" \
	    "1 s3://bk-test/$P/a
1 s3://bk-test/$P/b
3 s3://bk-test/$P/c/d
3 s3://bk-test/$P/c/e
$((7 * MiB)) s3://bk-test/$P/m" "the listing"
	grep -qvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ' \
	    <<< "$output" && fail "a time is not ISO 8601 UTC: $output"
	expect_eq "$(BK_S3_PAGE_SIZE=2 bk-s3ls "s3://bk-test/$P/")" "$output" \
	    "the same over pages of two"
	run bk-s3ls -a "s3://bk-test/$P/"
	[[ $output == *"s3://bk-test/$P/m.sha256"* ]] ||
	    fail "-a does not show the record: $output"
	run bk-s3ls --json "s3://bk-test/$P/c/"
	expect_status 0
	"$PY" -c 'import json,sys
for l in sys.stdin: o=json.loads(l); assert set(o)=={"time","size","url"}, o' \
	    <<< "$output" || fail "--json: $output"
	# a prefix, not a directory
	expect_eq "$(bk-s3ls "s3://bk-test/$P/c" | wc -l)" 2 "prefix c"
	run bk-s3ls "s3://bk-test/$P/nothing-here"
	expect_status 0
	expect_eq "$output" "" "an empty prefix lists nothing"
	run bk-s3ls "s3://no-such-bucket/"
	expect_status 3
}

@test "bk-s3get -o writes atomically; a missing object is exit 1 and no file" {
	echo hello > "$T/in"
	bk-s3put "s3://bk-test/$P/w" < "$T/in" > /dev/null
	run bk-s3get -o "$T/got" "s3://bk-test/$P/w"
	expect_status 0
	expect_same "$T/got" "$T/in" "-o"
	run bk-s3get -o "$T/none" "s3://bk-test/$P/missing"
	expect_status 1
	[[ $output == *"no such object"* ]] || fail "message: $output"
	[ ! -e "$T/none" ] || fail "a file for a missing object"
	[ -z "$(find "$T" -name '*.bk-tmp')" ] || fail "a temp file is left"
}

@test "bk-s3get --latest takes the newest object under a prefix" {
	for i in 1 2 3; do
		echo "v$i" | bk-s3put "s3://bk-test/$P/db-$i" > /dev/null
		sleep 1.1
	done
	mkdata_random "$T/big" $((7 * MiB))
	bk-s3put "s3://bk-test/$P/db-0" < "$T/big" > /dev/null
	run bk-s3get --latest -v "s3://bk-test/$P/db-"
	expect_status 0
	[[ $output == *"s3://bk-test/$P/db-0:"* ]] ||
	    fail "the newest is db-0 (its record is not an object): $output"
	run bk-s3get --latest "s3://bk-test/$P/none-"
	expect_status 1
}

@test "key templates expand in UTC; the journal records the run" {
	export BK_JOURNAL=$T/journal
	echo x | TZ=Asia/Tokyo bk-s3put "s3://bk-test/$P/%Y/db-%Y%m%dT%H%M%SZ" \
	    > "$T/line"
	key=$(cut -d ' ' -f 3 "$T/line")
	[[ $key =~ ^s3://bk-test/$P/20[0-9][0-9]/db-[0-9]{8}T[0-9]{6}Z$ ]] ||
	    fail "key: $key"
	hour=$(date -u +%H)
	[[ $key == *T${hour}* ]] || [[ $key == *T$(date -u -d '-1 min' +%H)* ]] ||
	    fail "not UTC: $key"
	grep -q "\"destination\":\"$key\"" "$T/journal" ||
	    fail "journal: $(cat "$T/journal")"
	grep -q "\"sha256\":\"$(echo x | sha)\"" "$T/journal" ||
	    fail "journal sha256: $(cat "$T/journal")"
}

@test "credentials: wrong secret is exit 3 and never printed; none at all is exit 2" {
	export AWS_SECRET_ACCESS_KEY=wrong-secret-value
	run bk-s3put "s3://bk-test/$P/x" <<< data
	expect_status 3
	[[ $output == *"HTTP 403"* ]] || fail "message: $output"
	[[ $output != *wrong-secret-value* ]] || fail "secret printed: $output"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	run bk-s3ls "s3://bk-test/"
	expect_status 2
	[[ $output == *"no credentials"* ]] || fail "message: $output"
	# a profile from the shared files
	export AWS_PROFILE=bk AWS_SHARED_CREDENTIALS_FILE=$T/creds
	printf '[bk]\naws_access_key_id = test:tester\naws_secret_access_key = testing\n' > "$T/creds"
	chmod 600 "$T/creds"
	run bk-s3ls "s3://bk-test/$P/"
	expect_status 0
}

@test "usage errors: exit 2 with a usage line" {
	for args in "" "s3://bk-test/" "s3://bk-test/dir/" "s3://BAD/x" \
	    "--meta novalue s3://bk-test/x" "--meta bk-size=1 s3://bk-test/x" \
	    "--lock-mode GOVERNANCE s3://bk-test/x" \
	    "--sse-kms-key-id k s3://bk-test/x" "--part-size 1M s3://bk-test/x" \
	    "--endpoint-url http://u:secretpw@h/ s3://bk-test/x" \
	    "-j 0 s3://bk-test/x" "a b"; do
		# shellcheck disable=SC2086
		run bk-s3put $args < /dev/null
		[ "$status" -eq 2 ] || fail "bk-s3put $args: exit $status: $output"
		[[ $output == *"usage: bk-s3put"* ]] ||
		    fail "bk-s3put $args: no usage line: $output"
		[[ $output != *secretpw* ]] || fail "password echoed: $output"
	done
	run bk-s3get
	expect_status 2
	run bk-s3ls
	expect_status 2
	run bk-s3put -h
	expect_status 0
	run bk-s3get -V
	expect_status 0
}

@test "bk-s3put --meta and --skip-same on a file: extended attributes user.meta.*" {
	echo one > "$T/one"
	echo two > "$T/two"
	mkdir "$T/d"
	run bk-s3put --no-clobber --meta sum=1 --skip-same sum "$T/d/f" < "$T/one"
	expect_status 0
	expect_eq "$(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.meta.sum").decode())' "$T/d/f")" \
	    1 "user.meta.sum"
	run bk-s3put --no-clobber --meta sum=1 --skip-same sum "$T/d/f" < "$T/two"
	expect_status 0
	[ -z "$output" ] || fail "output for nothing stored: $output"
	expect_eq "$(cat "$T/d/f")" one "the file is untouched"
	run bk-s3put --no-clobber --meta sum=2 --skip-same sum "$T/d/f" < "$T/two"
	expect_status 1
	[[ $output == *"exists, with other content (--no-clobber)"* ]] || fail "$output"
	run sh -c 'bk-gz -d < "$1" | bk-s3put --no-clobber --meta sum=1 --skip-same sum "$2"' sh "$T/one" "$T/d/f"
	expect_status 4
	expect_eq "$(cat "$T/d/f")" one "still the first one"
	run bk-s3put --storage-class STANDARD_IA "$T/d/g" < "$T/one"
	expect_status 2
	[ ! -e "$T/d/g" ] || fail "a file was written"
	expect_eq "$(ls -A "$T/d")" f "no temporary file"
}

@test "bk-s3put, bk-s3get and bk-s3ls on plain paths and file:// URLs" {
	mkdata_random "$T/in" $((3 * MiB))
	run bk-s3put "$T/store/db/%Y/x.bin" < "$T/in"
	expect_status 0
	f=$(cut -d ' ' -f 3- <<< "$output")
	expect_same "$f" "$T/in" "stored file"
	run bk-s3put "file://$T/store/db/y.bin" < "$T/in"
	expect_status 0
	run bk-s3ls "$T/store/db/"
	expect_status 0
	expect_eq "$(wc -l <<< "$output")" 2 "two files"
	bk-s3get --latest "$T/store/db/" > "$T/out"
	expect_same "$T/out" "$T/in" "--latest on a path"
	# empty input is not a gzip stream: the upstream fails
	run sh -c "bk-gz -d < /dev/null | bk-s3put '$T/store/db/z.bin'"
	expect_status 4
	bk-gz < "$T/in" | head -c 1000 > "$T/cut.gz"
	run sh -c "bk-gz -d < '$T/cut.gz' | bk-s3put '$T/store/db/z.bin'"
	expect_status 4
	[ ! -e "$T/store/db/z.bin" ] || fail "a file after a failed upstream"
	[ -z "$(find "$T/store" -name '*.bk-tmp')" ] || fail "temp file left"
}

@test "virtual-host addressing: BUCKET.s3.localhost, the same round trip" {
	local ep="http://s3.localhost:${BK_S3_TEST_ENDPOINT##*:}"
	mkdata_random "$T/in" $((7 * MiB))
	run bk-s3put --virtual-host --endpoint-url "$ep" \
	    "s3://bk-test/$P/vh" < "$T/in"
	[ "$status" -eq 0 ] || fail "bk-s3put: $output"
	bk-s3get --virtual-host --endpoint-url "$ep" "s3://bk-test/$P/vh" \
	    > "$T/out"
	expect_same "$T/out" "$T/in" "read back by virtual host"
	expect_eq "$(bk-s3ls --virtual-host --endpoint-url "$ep" \
	    "s3://bk-test/$P/" | cut -d ' ' -f 2-)" \
	    "$((7 * MiB)) s3://bk-test/$P/vh" "listed by virtual host"
	# and path style reads the same object
	bk-s3get "s3://bk-test/$P/vh" > "$T/out2"
	expect_same "$T/out2" "$T/in" "read back by path"
}
