#!/usr/bin/env bats
# The run journal (BK_JOURNAL=FILE): one JSON line per run, observed
# through real bk-gz runs.

load helper

setup() {
	bk_setup
	[ -n "$PY" ] || skip "python3 not installed (needed to parse JSON)"
	mkdata_text "$T/in" $((1 * MiB + 7)) 9
	bk-gz < "$T/in" > "$T/in.gz"
	J=$T/journal
}

TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'

@test "a clean run appends one JSON line with the documented fields" {
	BK_JOURNAL=$J bk-gz < "$T/in" > "$T/out.gz"
	jcheck "$J" --lines 1 \
	    "time~$TIME_RE" 'tool="bk-gz"' 'outcome="ok"' 'exit=0' \
	    "bytes_in@$T/in" "bytes_out@$T/out.gz" 'seconds:number' 'seconds>=0' \
	    'seal="ok"' 'has:destination' 'destination:string|null' \
	    'has:sha256' 'sha256:string|null' 'error=null'
	# the time is the time of the run (UTC), not some fixed value
	now=$(date -u +%Y-%m-%dT%H)
	"$PY" -c '
import datetime, json, sys
t = json.loads(open(sys.argv[1]).readline())["time"]
then = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")
now = datetime.datetime.utcnow()
sys.exit(0 if abs((now - then).total_seconds()) < 600 else 1)' "$J" ||
	    fail "journal time $(head -c 60 "$J") is not now ($now...)"
}

@test "decompress and test runs record their own byte counts" {
	BK_JOURNAL=$J bk-gz -d < "$T/in.gz" > "$T/out"
	expect_same "$T/out" "$T/in"
	jcheck "$J" --lines 1 'tool="bk-gz"' 'outcome="ok"' 'exit=0' \
	    "bytes_in@$T/in.gz" "bytes_out@$T/in" 'error=null'
	BK_JOURNAL=$J bk-gz -t < "$T/in.gz"
	jcheck "$J" --lines 2 'outcome="ok"' 'exit=0' "bytes_in@$T/in.gz"
}

@test "a failing run records outcome failed, its exit status and the error" {
	{ cat "$T/in.gz"; echo junk; } > "$T/bad.gz"
	status=0
	BK_JOURNAL=$J bk-gz -d < "$T/bad.gz" > "$T/out" 2> "$T/stderr" || status=$?
	err=$(cat "$T/stderr")
	expect_status 1
	jcheck "$J" --lines 1 'tool="bk-gz"' 'outcome="failed"' 'exit=1' \
	    'error:string' 'error~.' 'error~^(?!bk-gz:)' 'seconds:number'
	e=$("$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["error"])' "$J")
	case $err in
	*"$e"*) ;;
	*) fail "journal error '$e' is not the message printed: '$err'" ;;
	esac

	if [ -w /dev/full ]; then
		status=0
		BK_JOURNAL=$J bk-gz < "$T/in" > /dev/full 2> /dev/null || status=$?
		expect_status 3
		jcheck "$J" --lines 2 'outcome="failed"' 'exit=3' 'error:string'
	fi
}

# seal is the verdict the run passes on (bk(7), THE JOURNAL): ok (it
# succeeded on a file or a stream sealed end to end), unsealed (it
# succeeded, a stage upstream was not bk), failed.
@test "the seal field: ok from a file or bk, unsealed after a plain filter" {
	BK_JOURNAL=$J bk-gz -d < "$T/in.gz" > /dev/null
	jcheck "$J" --lines 1 'seal="ok"'
	cat "$T/in.gz" | BK_JOURNAL=$J bk-gz -d > /dev/null
	jcheck "$J" --lines 2 'seal="unsealed"' 'outcome="ok"'
	bk-gz < "$T/in" | BK_JOURNAL=$J bk-gz -d > /dev/null
	jcheck "$J" --lines 3 'seal="ok"' 'outcome="ok"'
	# the verdict is passed on: an unsealed stage upstream stays visible
	cat "$T/in" | bk-gz | BK_JOURNAL=$J bk-gz -d > /dev/null
	jcheck "$J" --lines 4 'seal="unsealed"' 'outcome="ok"'
	bk-gz < "$T/in" | bk-gz -d | bk-gz -1 | BK_JOURNAL=$J bk-gz -d > /dev/null
	jcheck "$J" --lines 5 'seal="ok"' 'outcome="ok"'
	cat "$T/in" | bk-gz | bk-gz -d | BK_JOURNAL=$J bk-gz > /dev/null
	jcheck "$J" --lines 6 'seal="unsealed"' 'outcome="ok"'
	# a run that fails passes on failed
	{ BK_JOURNAL=$J bk-gz -d < /dev/null 2> /dev/null | cat > /dev/null; } || true
	jcheck "$J" --lines 7 'seal="failed"' 'outcome="failed"' 'exit=1'
}

@test "an upstream failure is journaled as upstream-failed, exit 4, seal failed" {
	cp "$T/in.gz" "$T/crc.gz"
	flip "$T/crc.gz" $(($(fsize "$T/crc.gz") - 7))
	{
		BK_JOURNAL=$T/j1 bk-gz -d < "$T/crc.gz" 2> /dev/null |
		    BK_JOURNAL=$J bk-gz > "$T/out.gz" 2> /dev/null
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "1 4" "exit statuses"
	jcheck "$T/j1" --lines 1 'outcome="failed"' 'exit=1' 'seal="failed"'
	jcheck "$J" --lines 1 'tool="bk-gz"' 'outcome="upstream-failed"' 'exit=4' \
	    'seal="failed"' 'error:string'
}

@test "two runs give two lines; existing lines are kept" {
	echo '{"time":"2020-01-01T00:00:00Z","tool":"other","outcome":"ok"}' > "$J"
	BK_JOURNAL=$J bk-gz < "$T/in" > /dev/null
	BK_JOURNAL=$J bk-gz -d < "$T/in.gz" > /dev/null
	jcheck "$J" --lines 3 --line 1 'tool="other"'
	jcheck "$J" --line 2 "bytes_in@$T/in"
	jcheck "$J" --line 3 "bytes_in@$T/in.gz"
}

@test "concurrent runs do not interleave their lines" {
	pids=()
	for i in $(seq 1 16); do
		BK_JOURNAL=$J bk-gz -p 1 < "$T/in" > "$T/o$i.gz" 3>&- &
		pids+=("$!")
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	jcheck "$J" --lines 16
	for i in $(seq 1 16); do
		jcheck "$J" --line "$i" 'outcome="ok"' "bytes_in@$T/in"
	done
}

@test "the journal is created with mode 0600" {
	umask 022
	BK_JOURNAL=$J bk-gz < "$T/in" > /dev/null
	expect_eq "$(stat -c %a "$J")" 600 "mode of a new journal"
}

@test "an unwritable journal: the tool still does its job, and warns" {
	mkdir "$T/dir"
	for j in "$T/nodir/journal" "$T/dir" /dev/full; do
		[ "$j" != /dev/full ] || [ -w /dev/full ] || continue
		status=0
		BK_JOURNAL=$j bk-gz < "$T/in" > "$T/out.gz" 2> "$T/stderr" || status=$?
		err=$(cat "$T/stderr")
		expect_status 0
		expect_msg "$err" "warning for BK_JOURNAL=$j"
		io "$T/out.gz" "$T/out" bk-gz -d
		expect_status 0
		expect_same "$T/out" "$T/in"
		status=0
		BK_JOURNAL=$j bk-gz -d < "$T/out.gz" > "$T/out" 2> "$T/stderr" || status=$?
		err=$(cat "$T/stderr")
		expect_status 0
		expect_same "$T/out" "$T/in"
		expect_msg "$err" "warning for BK_JOURNAL=$j (-d)"
	done
	[ ! -e "$T/nodir" ] || fail "BK_JOURNAL's directory was created"
	# a failing run keeps its own exit status
	status=0
	BK_JOURNAL=$T/nodir/journal bk-gz -d < /dev/null > /dev/null 2> "$T/stderr" || status=$?
	err=$(cat "$T/stderr")
	expect_status 1
}

@test "BK_JOURNAL empty: no journal, no warning" {
	cd "$T"
	status=0
	BK_JOURNAL='' bk-gz < "$T/in" > "$T/out.gz" 2> "$T/stderr" || status=$?
	expect_status 0
	expect_empty "$T/stderr"
	[ -z "$(find "$T" -newer "$T/in.gz" -type f ! -name out.gz ! -name stderr)" ] ||
	    fail "files appeared: $(find "$T" -newer "$T/in.gz" -type f)"
}
