#!/usr/bin/env bats
# demo.bats - contrib/demo.sh (`make demo`, the README's first command)
# runs to the end, into a directory and into a throwaway S3 server, and
# leaves nothing behind.

load helper

# The demo's server runs as postgres when we are root: its directory must
# be reachable, which the per-test directory under bats' own is not.
setup() {
	bk_setup
	D=$(mktemp -d "${TMPDIR:-/tmp}/bk-demo-test.XXXXXX")
	chmod 711 "$D"
}

teardown() {
	[ -z "${D:-}" ] || rm -rf "$D"
	bk_teardown
}

# run_demo [S3]: run the demo with TMPDIR=$D, check its verdict lines and
# that it removed its directory.
run_demo() {
	run env S3="$1" TMPDIR="$D" "$BK_ROOT/contrib/demo.sh"
	echo "$output" | tail -n 40
	[ "$status" -eq 0 ] || fail "demo exited $status"
	[[ $output == *"row counts match"* ]] || fail "no row count match"
	[[ $output == *"restore  ok: restored into a scratch database"* ]] ||
	    fail "no restore test"
	[[ $output == *"BK-AGE OK"* ]] || fail "bk-age did not say OK"
	[[ $output == *"(exit status 4)"* ]] || fail "the seal did not show"
	[[ $output == *"demo: ok (cleaned up"* ]] || fail "no cleanup line"
	local left
	left=$(find "$D" -maxdepth 1 -name 'bk-demo.*')
	[ -z "$left" ] || fail "left behind: $left"
}

@test "demo: the main job into a directory, end to end" {
	run_demo 0
	[[ $output == *"bk-s3put 'backups/demo-%Y%m%dT%H%M%SZ.dump.gz.age'"* ]]
}

@test "demo: S3=1 runs the same job against a throwaway S3 server" {
	skip_unless swift-proxy-server
	skip_unless aws
	run_demo 1
	[[ $output == *"bk-s3put 's3://demo/backups/demo-"* ]]
	[[ $output == *"aws --endpoint-url"* ]]
}

@test "demo: S3=yes is a usage error" {
	run env S3=yes "$BK_ROOT/contrib/demo.sh"
	[ "$status" -eq 2 ]
	[[ $output == *"S3=yes: expected 0 or 1"* ]]
}
