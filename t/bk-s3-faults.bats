#!/usr/bin/env bats
# bk-s3put, bk-s3get and bk-s3ls when the server misbehaves: what Swift
# cannot do by itself (503 SlowDown, 500, 429, 400 RequestTimeout,
# connection resets mid-request and mid-answer, stalls, a 200 carrying an
# <Error>) is injected by t/s3fault.py, a proxy between the tools and the
# Swift server of t/s3server.sh.  The tools talk to the proxy (their
# endpoint names it, so SigV4 signs the proxy's Host, which the proxy
# passes on as it is and Swift accepts); the checks talk to Swift
# directly.  Every test asserts the outcome, and that no multipart upload
# is left behind and no object exists where nothing should have been
# committed.

load helper

setup_file() {
	S3DIR=$(mktemp -d /tmp/bk-s3f-t.XXXXXX)
	export S3DIR
	"$BK_ROOT/t/s3server.sh" start "$S3DIR/srv" || return 1
	"$BK_ROOT/t/s3server.sh" mb "$S3DIR/srv" bk-test || return 1
	# One multipart-sized input for all: three parts (6 + 6 + 1 MiB).
	head -c $((13 * 1024 * 1024)) /dev/urandom > "$S3DIR/in13"
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
	IN13=$S3DIR/in13
	: > "$T/rules"
}

teardown() {
	local p
	# the helpers first, gently (no "Killed" job notices), then the rest
	if [ -f "$T/helpers" ]; then
		while read -r p; do
			if kill "$p" 2> /dev/null; then
				wait "$p" 2> /dev/null || true
			fi
		done < "$T/helpers"
	fi
	bk_teardown
}

# helper PID: a helper server of this test, stopped at teardown.
helper() {
	echo "$1" >> "$T/helpers"
	track "$1"
}

# The checks go to Swift itself, never through the proxy.
AWS() {
	/usr/bin/aws --endpoint-url "$BK_S3_TEST_ENDPOINT" "$@"
}

# start_proxy [RULE...]: a fault proxy (t/s3fault.py) in front of Swift,
# with these rules and those of $T/rules; the tools' endpoint becomes the
# proxy.  Its log is $T/proxy.log.
start_proxy() {
	local a=() r
	for r in "$@"; do
		a+=(--rule "$r")
	done
	"$PY" "$BK_ROOT/t/s3fault.py" --upstream "$BK_S3_TEST_ENDPOINT" \
	    --port-file "$T/proxy.port" --log "$T/proxy.log" \
	    --rules "$T/rules" --log-header x-amz-security-token \
	    --log-header authorization "${a[@]}" \
	    > /dev/null 2> "$T/proxy.err" 3>&- &
	helper $!
	wait_for 10 test -s "$T/proxy.port" ||
	    fail "the proxy did not start: $(cat "$T/proxy.err")" || return 1
	PROXY=http://127.0.0.1:$(cat "$T/proxy.port")
	export AWS_ENDPOINT_URL=$PROXY AWS_ENDPOINT_URL_S3=$PROXY
}

# plog METHOD QUERY-REGEX [STATUS] [FAULT-REGEX]: how many requests the
# proxy logged with that method, a query matching the regex, that status
# ("-": no answer) and a fault matching the regex.
plog() {
	awk -F '\t' -v m="$1" -v q="$2" -v s="${3:-}" -v f="${4:-}" '
	    $2 == m && $4 ~ q && (s == "" || $5 == s) && (f == "" || $6 ~ f) {
		n++ }
	    END { print n + 0 }' "$T/proxy.log"
}

# show_log: the proxy's log, for failure messages.
show_log() {
	cut -f 1-7 "$T/proxy.log" | sed 's/uploadId=[^&	]*/uploadId=U/'
}

uploads_left() {
	AWS s3api list-multipart-uploads --bucket bk-test --prefix "$1" \
	    --query 'Uploads[].Key' --output text
}

no_uploads() {
	local u
	u=$(uploads_left "$1")
	[ -z "$u" ] || [ "$u" = None ]
}

# expect_no_uploads PREFIX: no multipart upload in progress under PREFIX
# (given a few seconds: Swift's listings may lag under load).
expect_no_uploads() {
	wait_for 10 no_uploads "$1" ||
	    fail "multipart uploads left behind: $(uploads_left "$1")"
}

# expect_no_object KEY: no object at KEY, nor its record KEY.sha256.
expect_no_object() {
	local k
	for k in "$1" "$1.sha256"; do
		if AWS s3api head-object --bucket bk-test --key "$k" \
		    > /dev/null 2>&1; then
			fail "s3://bk-test/$k exists"
			return 1
		fi
	done
}

# expect_stored KEY FILE: bk-s3get gives back FILE, checked against the
# record; aws (from Swift itself) agrees.
expect_stored() {
	local want
	want=$(sha "$2")
	bk-s3get -v "s3://bk-test/$1" > "$T/got" 2> "$T/get.err" ||
	    fail "bk-s3get s3://bk-test/$1: $(cat "$T/get.err")" || return 1
	expect_eq "$(sha "$T/got")" "$want" "SHA-256 of what bk-s3get read" ||
	    return 1
	grep -q "match what bk-s3put recorded" "$T/get.err" ||
	    fail "bk-s3get did not check the record: $(cat "$T/get.err")" ||
	    return 1
	expect_eq "$(AWS s3 cp "s3://bk-test/$1" - | sha)" "$want" \
	    "SHA-256 of what aws read from Swift"
}

# --- bk-s3put ----------------------------------------------------------------

@test "503 SlowDown twice on an UploadPart: retried, stored whole" {
	start_proxy "method=PUT match=partNumber=2& status=503 times=2"
	io "$IN13" "$T/out" bk-s3put -v "s3://bk-test/$P/obj"
	expect_status 0
	expect_eq "$(cut -d ' ' -f 1 "$T/out")" "$(sha "$IN13")" "the line"
	expect_eq "$(plog PUT 'partNumber=2&' 503 status=503)" 2 \
	    "SlowDowns sent ($(show_log))"
	expect_eq "$(plog PUT 'partNumber=2&' 200)" 1 "part 2 stored once"
	[[ $err == *"SlowDown"*"retrying"* ]] || fail "no warning: $err"
	expect_stored "$P/obj" "$IN13"
	expect_eq "$(AWS s3api head-object --bucket bk-test --key "$P/obj" \
	    --query ETag --output text)" \
	    "$(AWS s3api head-object --bucket bk-test --key "$P/obj" \
	    --query ETag --output text | grep -- '-3"$')" "three parts"
	expect_no_uploads "$P/"
}

@test "500 on the single PUT, once: retried, stored with its metadata" {
	mkdata_random "$T/in" $((1024 * 1024))
	start_proxy "method=PUT match=^[^?]*\$ status=500"
	io "$T/in" "$T/out" bk-s3put "s3://bk-test/$P/small"
	expect_status 0
	expect_eq "$(plog PUT '^-$' 500)" 1 "one 500 ($(show_log))"
	expect_eq "$(plog PUT '^-$' 200)" 1 "then stored"
	expect_stored "$P/small" "$T/in"
	expect_eq "$(AWS s3api head-object --bucket bk-test --key "$P/small" \
	    --query 'Metadata."bk-sha256"' --output text)" "$(sha "$T/in")" \
	    "bk-sha256"
	expect_no_uploads "$P/"
}

@test "connection reset mid-part (request cut) and an answer lost: retried" {
	# part 1: the proxy reads 1 MiB of it, then resets; part 3: Swift
	# stores it, the answer is cut before its first byte
	start_proxy \
	    "method=PUT match=partNumber=1& reset=request after=1048576" \
	    "method=PUT match=partNumber=3& reset=response"
	io "$IN13" "$T/out" bk-s3put -v "s3://bk-test/$P/obj"
	expect_status 0
	expect_eq "$(plog PUT 'partNumber=1&' - reset=request)" 1 \
	    "part 1 cut ($(show_log))"
	expect_eq "$(plog PUT 'partNumber=3&' - reset=response)" 1 \
	    "part 3's answer cut"
	expect_eq "$(plog PUT 'partNumber=[13]&' 200)" 2 "both sent again"
	expect_stored "$P/obj" "$IN13"
	expect_no_uploads "$P/"
}

@test "a stalled answer longer than BK_S3_TIMEOUT: given up on, retried" {
	export BK_S3_TIMEOUT=2
	# Swift never sees the stalled request: the proxy holds it 10 s, finds
	# the client gone and drops it.  (libcurl's low-speed check averages
	# over its last ~5 s, so "2 s without progress" fires after ~7 s.)
	start_proxy "method=PUT match=partNumber=2& stall=10"
	t0=$SECONDS
	io "$IN13" "$T/out" bk-s3put -v "s3://bk-test/$P/obj"
	expect_status 0
	[[ $err == *"no progress for 2 s; retrying"* ]] ||
	    fail "no timeout warning: $err"
	[ $((SECONDS - t0)) -lt 10 ] ||
	    fail "took $((SECONDS - t0)) s: waited for the proxy to give up"
	expect_eq "$(plog PUT 'partNumber=2&' 200)" 1 "part 2 sent again"
	expect_stored "$P/obj" "$IN13"
	expect_no_uploads "$P/"
	# and the stalled request was dropped, never forwarded
	wait_for 10 grep -q 'stall=10' "$T/proxy.log"
	expect_eq "$(plog PUT 'partNumber=2&' - stall=10)" 1 "dropped"
}

@test "CompleteMultipartUpload: a 200 carrying <Error>InternalError is retried" {
	start_proxy "method=POST match=uploadId= error200=InternalError"
	io "$IN13" "$T/out" bk-s3put -v "s3://bk-test/$P/obj"
	expect_status 0
	expect_eq "$(plog POST uploadId= 200 error200=InternalError)" 1 \
	    "the error ($(show_log))"
	expect_eq "$(plog POST uploadId= 200 '^-$')" 1 "completed on retry"
	expect_stored "$P/obj" "$IN13"
	expect_no_uploads "$P/"
}

@test "CompleteMultipartUpload: an answer lost after Swift completed it: retried, stored" {
	# Swift completes it; the client sees a reset; the retry finds the
	# upload completed (Swift answers 200 again, as S3 does)
	start_proxy "method=POST match=uploadId= reset=response"
	io "$IN13" "$T/out" bk-s3put -v "s3://bk-test/$P/obj"
	expect_status 0
	expect_eq "$(plog POST uploadId= - reset=response)" 1 \
	    "the answer lost ($(show_log))"
	expect_eq "$(plog POST uploadId= 200)" 1 "completed again"
	expect_stored "$P/obj" "$IN13"
	expect_no_uploads "$P/"
}

@test "the record KEY.sha256 cannot be written: the object is taken back" {
	export BK_S3_RETRIES=1
	start_proxy "method=PUT match='^[^?]*\\.sha256$' status=500 times=0"
	io "$IN13" "$T/out" bk-s3put "s3://bk-test/$P/obj"
	expect_status 3
	[[ $err == *"recording size and SHA-256"* ]] || fail "message: $err"
	expect_eq "$(plog PUT '^-$' 500)" 2 "two tries at the record ($(show_log))"
	expect_eq "$(plog POST uploadId= 200)" 1 "it was completed"
	expect_eq "$(plog DELETE '^-$' 204)" 1 "then deleted"
	expect_no_object "$P/obj"
	expect_no_uploads "$P/"
}

@test "CreateMultipartUpload: an answer lost after Swift created the upload" {
	start_proxy "method=POST match=^uploads=\$ reset=response"
	io "$IN13" "$T/out" bk-s3put "s3://bk-test/$P/obj"
	expect_status 0
	expect_stored "$P/obj" "$IN13"
	expect_no_uploads "$P/"
}

@test "CompleteMultipartUpload: a 200 carrying a non-retryable <Error>: exit 3, nothing left" {
	# InvalidPart is not retried (s3.c retries 5xx, 429, SlowDown,
	# InternalError, RequestTimeout, ServiceUnavailable,
	# RequestTimeTooSkewed): the upload is aborted.
	echo "method=POST match=uploadId= error200=InvalidPart" > "$T/rules"
	start_proxy
	io "$IN13" "$T/out" bk-s3put "s3://bk-test/$P/a"
	expect_status 3
	[[ $err == *"InvalidPart"* ]] || fail "message: $err"
	expect_empty "$T/out" "stdout"
	expect_eq "$(plog POST uploadId= '' error200)" 1 \
	    "one completion, no retry ($(show_log))"
	expect_eq "$(plog DELETE uploadId= 204)" 1 "aborted"
	expect_no_object "$P/a"
	expect_no_uploads "$P/"

	# The same answer after Swift did complete it: the object is there,
	# with the ETag these parts make, and bk-s3put takes it back.
	: > "$T/proxy.log"
	echo "method=POST match=uploadId= error200=InvalidPart forward=1" \
	    > "$T/rules"
	io "$IN13" "$T/out" bk-s3put "s3://bk-test/$P/b"
	expect_status 3
	expect_eq "$(plog HEAD '^-$' 200)" 1 \
	    "bk-s3put looked for a committed object ($(show_log))"
	expect_eq "$(plog DELETE '^-$' 204)" 1 "and deleted it"
	expect_no_object "$P/b"
	expect_no_uploads "$P/"
}

@test "CompleteMultipartUpload: InternalError every time, BK_S3_RETRIES=1: exit 3, nothing left" {
	export BK_S3_RETRIES=1
	start_proxy "method=POST match=uploadId= error200=InternalError times=0"
	io "$IN13" "$T/out" bk-s3put "s3://bk-test/$P/obj"
	expect_status 3
	[[ $err == *"InternalError"*"(retries exhausted)"* ]] ||
	    fail "message: $err"
	expect_eq "$(plog POST uploadId= 200 error200)" 2 \
	    "two attempts ($(show_log))"
	expect_eq "$(plog DELETE uploadId= 204)" 1 "aborted"
	expect_no_object "$P/obj"
	expect_no_uploads "$P/"
}

@test "500 on every UploadPart, BK_S3_RETRIES=2: exit 3, upload aborted, no object" {
	export BK_S3_RETRIES=2
	start_proxy "method=PUT match=partNumber= status=500 times=0"
	io "$IN13" "$T/out" bk-s3put "s3://bk-test/$P/obj"
	expect_status 3
	[[ $err == *"HTTP 500 InternalError"*"(retries exhausted)"* ]] ||
	    fail "message: $err"
	expect_empty "$T/out" "stdout"
	n=$(plog PUT 'partNumber=1&' 500)
	expect_eq "$n" 3 "part 1: the first attempt and two retries ($(show_log))"
	expect_eq "$(plog PUT partNumber= 200)" 0 "no part stored"
	expect_eq "$(plog POST uploadId=)" 0 "no completion"
	expect_eq "$(plog DELETE uploadId= 204)" 1 "aborted"
	expect_no_object "$P/obj"
	expect_no_uploads "$P/"
}

@test "the abort itself meets a 503: retried, no upload left" {
	export BK_S3_RETRIES=1
	start_proxy "method=PUT match=partNumber= status=500 times=0" \
	    "method=DELETE match=uploadId= status=503"
	io "$IN13" "$T/out" bk-s3put "s3://bk-test/$P/obj"
	expect_status 3
	expect_eq "$(plog DELETE uploadId= 503)" 1 "the abort failed once ($(show_log))"
	expect_eq "$(plog DELETE uploadId= 204)" 1 "then went through"
	expect_no_object "$P/obj"
	expect_no_uploads "$P/"
}

@test "429 on CreateMultipartUpload, 400 RequestTimeout on a part: retried" {
	start_proxy "method=POST match=uploads= status=429" \
	    "method=PUT match=partNumber=2& status=400 code=RequestTimeout"
	io "$IN13" "$T/out" bk-s3put "s3://bk-test/$P/obj"
	expect_status 0
	expect_eq "$(plog POST '^uploads=$' 429)" 1 "429 ($(show_log))"
	expect_eq "$(plog POST '^uploads=$' 200)" 1 "one upload created"
	expect_eq "$(plog PUT 'partNumber=2&' 400)" 1 "RequestTimeout"
	expect_stored "$P/obj" "$IN13"
	expect_no_uploads "$P/"
}

@test "501 NotImplemented is an answer, not retried; 403 neither" {
	echo data > "$T/in"
	echo "method=PUT status=501 times=0" > "$T/rules"
	start_proxy
	t0=$SECONDS
	io "$T/in" "$T/out" bk-s3put "s3://bk-test/$P/x"
	expect_status 3
	[ $((SECONDS - t0)) -lt 5 ] || fail "took $((SECONDS - t0)) s"
	expect_eq "$(plog PUT '' 501)" 1 "one attempt ($(show_log))"
	expect_no_object "$P/x"
	: > "$T/proxy.log"
	echo "method=PUT status=403 code=AccessDenied times=0" > "$T/rules"
	io "$T/in" "$T/out" bk-s3put "s3://bk-test/$P/x"
	expect_status 3
	expect_eq "$(plog PUT '' 403)" 1 "one attempt"
}

# --- bk-s3get ----------------------------------------------------------------

@test "bk-s3get: a reset mid-body resumes with a Range; byte-identical" {
	bk-s3put "s3://bk-test/$P/obj" < "$IN13" > /dev/null
	mkdata_random "$T/small" $((3 * 1024 * 1024 + 5))
	bk-s3put "s3://bk-test/$P/small" < "$T/small" > /dev/null
	start_proxy "method=GET match=^/bk-test/$P/obj\$ reset=response after=5000000" \
	    "method=GET match=^/bk-test/$P/small\$ reset=response after=1000000"
	io /dev/null "$T/out" bk-s3get -v "s3://bk-test/$P/obj"
	expect_status 0
	expect_same "$T/out" "$IN13"
	[[ $err == *"resuming at byte"* ]] || fail "no resume: $err"
	expect_eq "$(plog GET '' - reset=response)" 1 "cut ($(show_log))"
	grep -qP "\tGET\t/bk-test/$P/obj\t-\t206\t-\tbytes=[1-9][0-9]*-\t" \
	    "$T/proxy.log" || fail "no Range request: $(show_log)"
	# a single-PUT object, checked against its metadata
	io /dev/null "$T/out" bk-s3get -v "s3://bk-test/$P/small"
	expect_status 0
	expect_same "$T/out" "$T/small"
	[[ $err == *"match what bk-s3put recorded"* ]] || fail "unchecked: $err"
	expect_eq "$(plog GET "" 206)" 2 "two resumed GETs"
}

@test "bk-s3get: a body that stalls past BK_S3_TIMEOUT resumes; a 503 first is retried" {
	export BK_S3_TIMEOUT=2
	bk-s3put "s3://bk-test/$P/obj" < "$IN13" > /dev/null
	# the first GET: 503; the second: 2 MB, then nothing for 12 s
	start_proxy "method=GET match=^/bk-test/$P/obj\$ status=503" \
	    "method=GET match=^/bk-test/$P/obj\$ stall=12 after=2000000"
	t0=$SECONDS
	io /dev/null "$T/out" bk-s3get -v "s3://bk-test/$P/obj"
	expect_status 0
	[ $((SECONDS - t0)) -lt 12 ] ||
	    fail "took $((SECONDS - t0)) s: waited for the proxy to give up"
	expect_same "$T/out" "$IN13"
	[[ $err == *"no progress for 2 s; resuming at byte "* ]] ||
	    fail "no timeout: $err"
	expect_eq "$(plog GET '' 503)" 1 "503 first ($(show_log))"
	expect_eq "$(plog GET '' 206)" 1 "then the rest with a Range"
}

@test "bk-s3get: 404 is exit 1 and writes nothing" {
	bk-s3put "s3://bk-test/$P/here" <<< data > /dev/null
	start_proxy "method=GET match=^/bk-test/$P/here\$ status=404 times=0"
	io /dev/null "$T/out" bk-s3get "s3://bk-test/$P/missing"
	expect_status 1
	[[ $err == *"no such object"* ]] || fail "message: $err"
	expect_empty "$T/out" "stdout"
	# a 404 the proxy makes up for an object that exists: not retried
	io /dev/null "$T/out" bk-s3get -o "$T/file" "s3://bk-test/$P/here"
	expect_status 1
	[ ! -e "$T/file" ] || fail "-o wrote a file"
	expect_eq "$(plog GET '' 404 status=404)" 1 "one GET ($(show_log))"
}

# --- bk-s3ls -----------------------------------------------------------------

@test "bk-s3ls: a 503 on the second page and a cut third page are retried" {
	for k in a b c d e f g; do
		printf '%s' "$k" | bk-s3put "s3://bk-test/$P/$k" > /dev/null
	done
	bk-s3ls "s3://bk-test/$P/" > "$T/want"
	expect_eq "$(wc -l < "$T/want")" 7 "seven objects"
	export BK_S3_PAGE_SIZE=2
	start_proxy "method=GET match=continuation-token= status=503 times=1" \
	    "method=GET match=continuation-token= reset=response after=100 nth=3"
	io /dev/null "$T/out" bk-s3ls -v "s3://bk-test/$P/"
	expect_status 0
	expect_same "$T/out" "$T/want"
	expect_eq "$(plog GET 'list-type=2' 503)" 1 "503 ($(show_log))"
	expect_eq "$(plog GET 'list-type=2' - reset=response)" 1 "cut"
	expect_eq "$(plog GET 'list-type=2' 200)" 4 "four pages"
}

@test "bk-s3ls: a page that keeps failing is exit 3, and the seal says so" {
	for k in a b c d e; do
		printf '%s' "$k" | bk-s3put "s3://bk-test/$P/$k" > /dev/null
	done
	export BK_S3_PAGE_SIZE=2 BK_S3_RETRIES=2
	start_proxy "method=GET match=continuation-token= status=503 times=0"
	io /dev/null "$T/out" bk-s3ls "s3://bk-test/$P/"
	expect_status 3
	[[ $err == *"HTTP 503"*"(retries exhausted)"* ]] || fail "message: $err"
	expect_eq "$(plog GET continuation-token= 503)" 3 "three tries ($(show_log))"
	# what was printed is the first page only, and exit 3 disowns it; a
	# bk tool downstream learns it through the seal
	[ "$(wc -l < "$T/out")" -le 2 ] || fail "more than a page: $(cat "$T/out")"
	run sh -c "bk-s3ls 's3://bk-test/$P/' | bk-gz > '$T/ls.gz'"
	expect_status 4
	[[ $output == *"upstream failed"* ]] || fail "message: $output"
}

# --- credentials from instance metadata ------------------------------------------

@test "bk-s3ls with credentials from instance metadata (IMDSv2, fake)" {
	skip_unless_py
	"$PY" "$BK_ROOT/t/imds.py" --port-file "$T/imds.port" \
	    --log "$T/imds.log" > /dev/null 2> "$T/imds.err" 3>&- &
	imds=$!
	helper "$imds"
	wait_for 10 test -s "$T/imds.port" ||
	    fail "imds.py did not start: $(cat "$T/imds.err")"
	printf x | bk-s3put "s3://bk-test/$P/x" > /dev/null
	start_proxy
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
	    AWS_EC2_METADATA_DISABLED AWS_PROFILE
	export AWS_SHARED_CREDENTIALS_FILE=$T/none AWS_CONFIG_FILE=$T/none
	AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$(cat "$T/imds.port")
	export AWS_EC2_METADATA_SERVICE_ENDPOINT
	io /dev/null "$T/out" bk-s3ls "s3://bk-test/$P/"
	expect_status 0
	[[ $(cat "$T/out") == *" 1 s3://bk-test/$P/x" ]] ||
	    fail "listing: $(cat "$T/out")"
	# IMDSv2: a session token first, then the role and its credentials
	# with that token
	expect_eq "$(cut -f 1-4 "$T/imds.log")" \
	    "PUT	/latest/api/token	200	-
GET	/latest/meta-data/iam/security-credentials/	200	yes
GET	/latest/meta-data/iam/security-credentials/bk-test-role	200	yes" \
	    "the metadata requests"
	# the session token went out, signed (Swift ignores it, but checks
	# the signature over it)
	grep -q 'x-amz-security-token=bk-test-session-token' "$T/proxy.log" ||
	    fail "no x-amz-security-token: $(cat "$T/proxy.log")"
	grep -q 'SignedHeaders=[^,]*x-amz-security-token' "$T/proxy.log" ||
	    fail "the token is not signed: $(cat "$T/proxy.log")"
	# the credentials are really the ones in use: a wrong secret fails
	kill "$imds" && wait "$imds"
	"$PY" "$BK_ROOT/t/imds.py" --port-file "$T/imds2.port" \
	    --secret wrong > /dev/null 2>&1 3>&- &
	helper $!
	wait_for 10 test -s "$T/imds2.port"
	AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$(cat "$T/imds2.port")
	io /dev/null "$T/out" bk-s3ls "s3://bk-test/$P/"
	expect_status 3
	[[ $err == *"HTTP 403"* ]] || fail "message: $err"
	# and no metadata service at all: no credentials, exit 2
	export AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1
	io /dev/null "$T/out" bk-s3ls "s3://bk-test/$P/"
	expect_status 2
	[[ $err == *"no credentials"* ]] || fail "message: $err"
}
