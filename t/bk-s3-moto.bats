#!/usr/bin/env bats
# bk-s3put against moto, a Python S3 emulator, for what the Swift server
# lacks: conditional writes (--no-clobber answered with 412), storage
# classes, server-side encryption and object lock.  moto checks no
# signatures, so everything else is tested against Swift (bk-s3.bats).
# Skipped where moto is not installed.

load helper

moto_bin() {
	local m
	for m in "${BK_MOTO_SERVER:-}" "$(command -v moto_server 2>/dev/null)" \
	    /root/.pyenv/versions/*/bin/moto_server; do
		[ -n "$m" ] && [ -x "$m" ] && { echo "$m"; return 0; }
	done
	return 1
}

setup_file() {
	local m port i
	MOTODIR=$(mktemp -d /tmp/bk-moto-t.XXXXXX)
	export MOTODIR
	m=$(moto_bin) || return 0
	port=$((30000 + RANDOM % 2000))
	"$m" -H 127.0.0.1 -p "$port" > "$MOTODIR/log" 2>&1 &
	echo $! > "$MOTODIR/pid"
	for i in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		sleep 0.1
	done
	echo "$port" > "$MOTODIR/port"
}

teardown_file() {
	[ ! -f "$MOTODIR/pid" ] || kill "$(cat "$MOTODIR/pid")" 2>/dev/null || true
	rm -rf "$MOTODIR"
}

setup() {
	bk_setup
	[ -f "$MOTODIR/port" ] || skip "moto is not installed"
	export AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$MOTODIR/port")
	export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
	export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
	export AWS_CONFIG_FILE=$T/none AWS_SHARED_CREDENTIALS_FILE=$T/none
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3
	B=bkt$BATS_TEST_NUMBER
	AWS s3api create-bucket --bucket "$B" --object-lock-enabled-for-bucket \
	    > /dev/null
}

AWS() {
	/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"
}

head_q() {
	AWS s3api head-object --bucket "$B" --key "$1" --query "$2" \
	    --output text
}

@test "--no-clobber: a conditional write; the second is refused, single and multipart" {
	echo one > "$T/one"
	echo two > "$T/two"
	run bk-s3put --no-clobber "s3://$B/x" < "$T/one"
	expect_status 0
	run bk-s3put --no-clobber "s3://$B/x" < "$T/two"
	expect_status 1
	[[ $output == *"exists (--no-clobber)"* ]] || fail "$output"
	expect_eq "$(bk-s3get "s3://$B/x")" one "the first one stays"
	mkdata_random "$T/big" $((7 * MiB))
	run bk-s3put --no-clobber "s3://$B/big" < "$T/big"
	expect_status 0
	mkdata_random "$T/big2" $((7 * MiB))
	run bk-s3put --no-clobber "s3://$B/big" < "$T/big2"
	expect_status 1
	bk-s3get "s3://$B/big" > "$T/out"
	expect_same "$T/out" "$T/big" "the first multipart object stays"
	left=$(AWS s3api list-multipart-uploads --bucket "$B" \
	    --query 'Uploads[].Key' --output text)
	[ "$left" = None ] || [ -z "$left" ] || fail "uploads left: $left"
}

@test "--skip-same: the same content by metadata is stored already (exit 0, untouched); other content is refused" {
	local etag
	echo one > "$T/one"
	echo two > "$T/two"
	run bk-s3put --no-clobber --meta sum=1 --skip-same sum "s3://$B/s" < "$T/one"
	expect_status 0
	etag=$(head_q s ETag)
	run bk-s3put -v --no-clobber --meta sum=1 --skip-same sum "s3://$B/s" < "$T/two"
	expect_status 0
	[[ $output == *"there already, with the same sum: nothing stored"* ]] ||
	    fail "$output"
	expect_eq "$(head_q s ETag)" "$etag" "the object is untouched"
	expect_eq "$(bk-s3get "s3://$B/s")" one "the first one stays"
	run bk-s3put --no-clobber --meta sum=2 --skip-same sum "s3://$B/s" < "$T/two"
	expect_status 1
	[[ $output == *"exists, with other content (--no-clobber)"* ]] || fail "$output"
	run bk-s3put --no-clobber --meta other=1 --skip-same other "s3://$B/s" < "$T/two"
	expect_status 1
	[[ $output == *"without the metadata to compare"* ]] || fail "$output"
	# A failed stage before it fails it, same content or not.
	run sh -c 'bk-gz -d < "$1" | bk-s3put --no-clobber --meta sum=1 --skip-same sum "s3://$2/s"' sh "$T/one" "$B"
	expect_status 4
	expect_eq "$(bk-s3get "s3://$B/s")" one "still the first one"
	# Multipart: the metadata is the upload's, taken at its start.
	mkdata_random "$T/big" $((7 * MiB))
	run bk-s3put --no-clobber --meta sum=b --skip-same sum "s3://$B/sbig" < "$T/big"
	expect_status 0
	run bk-s3put --no-clobber --meta sum=b --skip-same sum "s3://$B/sbig" < "$T/big"
	expect_status 0
	[ -z "$output" ] || fail "a line on stdout for nothing stored: $output"
	run bk-s3put --no-clobber --meta sum=c --skip-same sum "s3://$B/sbig" < "$T/one"
	expect_status 1
	bk-s3get "s3://$B/sbig" > "$T/out"
	expect_same "$T/out" "$T/big" "the multipart object stays"
	# What makes no sense is a usage error.
	run bk-s3put --meta sum=1 --skip-same sum "s3://$B/u" < "$T/one"
	expect_status 2
	run bk-s3put --no-clobber --skip-same sum "s3://$B/u" < "$T/one"
	expect_status 2
}

@test "storage class, SSE, object lock, metadata and content type reach the object" {
	echo data > "$T/in"
	run bk-s3put --storage-class STANDARD_IA --sse AES256 \
	    --lock-mode GOVERNANCE --retain-until 30d --meta team=dba \
	    --content-type application/x-bk "s3://$B/y" < "$T/in"
	expect_status 0
	expect_eq "$(head_q y StorageClass)" STANDARD_IA "storage class"
	expect_eq "$(head_q y ServerSideEncryption)" AES256 "SSE"
	expect_eq "$(head_q y ObjectLockMode)" GOVERNANCE "lock mode"
	until=$(head_q y ObjectLockRetainUntilDate)
	want=$(date -u -d '+30 days' +%Y-%m-%d)
	[[ $until == "$want"* ]] || fail "retain until $until, want $want"
	expect_eq "$(head_q y Metadata.team)" dba "--meta"
	expect_eq "$(head_q y ContentType)" application/x-bk "content type"
	# the same on a multipart object and on its record
	mkdata_random "$T/big" $((7 * MiB))
	run bk-s3put --storage-class STANDARD_IA --lock-mode COMPLIANCE \
	    --retain-until 2099-01-01 "s3://$B/big" < "$T/big"
	expect_status 0
	# (moto drops lock headers on CreateMultipartUpload, which S3 keeps:
	# the object's lock is not checked here, its record's is)
	expect_eq "$(head_q big StorageClass)" STANDARD_IA "multipart class"
	expect_eq "$(head_q big.sha256 ObjectLockMode)" COMPLIANCE "record lock"
	expect_eq "$(head_q big.sha256 StorageClass)" STANDARD_IA "record class"
	bk-s3get "s3://$B/big" > "$T/out"
	expect_same "$T/out" "$T/big" "read back"
}
