#!/usr/bin/env bats
# The pipeline seal (design.md), with real processes: a bk tool reading a
# pipe fails (exit 4) when the bk tool writing it failed or was killed, and
# then does not write the clean end of its own format.

load helper

# start_chain PIPELINE: run PIPELINE under bash -c in the background (in
# its own shell, which reaps each stage as it ends, as a user's shell
# does), bounded by a timeout so that a hang fails instead of blocking.
# The variables it uses ($T, $FIX, ...) are expanded by that shell.
start_chain() {
	timeout 90 bash -c "$1" 3>&- &
	chain=$!
	track "$chain"
}

# finish_chain: wait for it; $status is the exit status of its last stage.
finish_chain() {
	status=0
	wait "$chain" || status=$?
	[ "$status" -ne 124 ] || fail "the pipeline hung (killed after 90 s)"
}

# victim_pid NAME: the pid saved by fixtures/savepid in $T/NAME.pid.
victim_pid() {
	wait_for 30 test -s "$T/$1.pid" || return 1
	cat "$T/$1.pid"
}

# kill_when_streaming NAME SIGNAL: once the stage NAME has written 128 KiB
# (it is mid-stream: its input runs for many more seconds), send SIGNAL.
kill_when_streaming() {
	local pid
	pid=$(victim_pid "$1") || return 1
	if [ -r "/proc/$pid/io" ]; then
		wait_for 30 proc_io_at_least "$pid" wchar 131072 || return 1
	else
		sleep 1
	fi
	kill -s "$2" "$pid" || fail "$1 (pid $pid) ended before it could be killed"
}

# a corrupt stream whose data is complete but whose CRC is wrong: the
# decompressor writes everything, then fails
make_crc_corrupt() {
	mkdata_text "$T/data" $((2 * MiB)) 3
	bk-gz < "$T/data" > "$T/good.gz"
	cp "$T/good.gz" "$T/crc.gz"
	flip "$T/crc.gz" $(($(fsize "$T/crc.gz") - 6))
}

@test "sealed chain: bk-gz | bk-gz -d succeeds and is lossless" {
	mkdata_text "$T/in" $((3 * MiB + 3)) 1
	{
		bk-gz < "$T/in" 2> "$T/e1" | bk-gz -d > "$T/out" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0" "exit statuses of bk-gz | bk-gz -d"
	expect_same "$T/out" "$T/in"
	expect_empty "$T/e1"
	expect_empty "$T/e2"
	# and a longer one, with an empty stream too
	for f in "$T/in" /dev/null; do
		{
			bk-gz -1 < "$f" | bk-gz -d | bk-gz -9 -p 1 | bk-gz -d > "$T/out"
			ps=("${PIPESTATUS[@]}")
		} || true
		expect_eq "${ps[*]}" "0 0 0 0" "exit statuses of a four-stage chain"
		expect_same "$T/out" "$f"
	done
}

@test "concurrent sealed chains (cron jobs at the same minute) all succeed" {
	mkdata_text "$T/in" 500000 4
	# the run dir does not exist yet: the first writers race to create it
	[ ! -e "$BK_RUNDIR" ]
	for i in $(seq 1 12); do
		(
			bk-gz -p 1 < "$T/in" 2> "$T/e1.$i" |
			    bk-gz -d > "$T/out.$i" 2> "$T/e2.$i"
			echo "${PIPESTATUS[*]}" > "$T/st.$i"
		) 3>&- &
	done
	wait
	for i in $(seq 1 12); do
		expect_eq "$(cat "$T/st.$i")" "0 0" "chain $i: exit statuses"
		expect_same "$T/out.$i" "$T/in"
		expect_empty "$T/e1.$i" "chain $i: writer's stderr"
		expect_empty "$T/e2.$i" "chain $i: reader's stderr"
	done
	expect_eq "$(stat -c %a "$BK_RUNDIR")" 700 "mode of the run dir"
	[ -z "$(rundir_entries)" ] || fail "left in the run dir: $(rundir_entries)"
}

@test "unsealed: a plain filter upstream is not a failure" {
	mkdata_text "$T/in" $((1 * MiB + 1)) 2
	{
		cat "$T/in" | bk-gz 2> "$T/e1" | bk-gz -d > "$T/out" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0 0" "exit statuses of cat | bk-gz | bk-gz -d"
	expect_same "$T/out" "$T/in"
	expect_empty "$T/e1"
	expect_empty "$T/e2"
	{
		bk-gz < "$T/in" | cat | bk-gz -d > "$T/out" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0 0" "exit statuses of bk-gz | cat | bk-gz -d"
	expect_same "$T/out" "$T/in"
	expect_empty "$T/e2"
}

@test "several bk writers on one pipe: all ok, the reader succeeds" {
	mkdata_text "$T/a" $((1 * MiB)) 3
	mkdata_random "$T/b" 300000
	{
		{ bk-gz < "$T/a"; bk-gz -1 < "$T/b"; } | bk-gz -d > "$T/out" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0" "exit statuses of { bk-gz; bk-gz; } | bk-gz -d"
	cat "$T/a" "$T/b" > "$T/ab"
	expect_same "$T/out" "$T/ab"
	expect_empty "$T/e2"
}

@test "one of several writers failed: the reader exits 4" {
	make_crc_corrupt
	{
		{ bk-gz -d < "$T/crc.gz"; bk-gz -d < "$T/good.gz"; } 2> /dev/null |
		    bk-gz > "$T/out.gz" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[1]}" 4 "exit status of { bad; good; } | bk-gz"
	expect_msg "$(cat "$T/e2")"
	! gzip -t < "$T/out.gz" 2> /dev/null || fail "gzip -t accepts the output"
}

@test "kill -9 of the upstream compressor mid-stream: bk-gz -d exits 4" {
	start_chain '"$FIX/trickle" -n 1500 /dev/urandom |
	    "$FIX/savepid" "$T/up.pid" bk-gz -p 1 |
	    bk-gz -d > "$T/out" 2> "$T/err"'
	kill_when_streaming up KILL
	finish_chain
	err=$(cat "$T/err")
	expect_status 4
	expect_msg "$err" "bk-gz -d"
	printf '%s\n' "$err" | grep -qi upstream ||
	    fail "the message does not mention upstream: $err"
}

@test "SIGTERM of the upstream compressor mid-stream: bk-gz -d exits 4" {
	start_chain '"$FIX/trickle" -n 1500 /dev/urandom |
	    "$FIX/savepid" "$T/up.pid" bk-gz -p 1 |
	    bk-gz -d > "$T/out" 2> "$T/err"'
	kill_when_streaming up TERM
	finish_chain
	err=$(cat "$T/err")
	expect_status 4
	printf '%s\n' "$err" | grep -qi upstream ||
	    fail "the message does not mention upstream: $err"
}

@test "kill -9 of the upstream before its first byte: bk-gz -d exits 4, not 'empty'" {
	# the producer says nothing for 3 s; the upstream registers at once
	start_chain 'sh -c "sleep 3; exec cat /dev/zero" 2> /dev/null |
	    "$FIX/savepid" "$T/up.pid" bk-gz |
	    bk-gz -d > "$T/out" 2> "$T/err"'
	pid=$(victim_pid up)
	wait_for 30 rundir_has_record
	kill -9 "$pid"
	finish_chain
	err=$(cat "$T/err")
	expect_status 4
	expect_msg "$err" "bk-gz -d"
	printf '%s\n' "$err" | grep -qi upstream ||
	    fail "the message does not mention upstream: $err"
}

@test "kill -9 of the upstream decompressor mid-stream: bk-gz exits 4, no trailer" {
	mkdata_random "$T/src" $((24 * MiB))
	bk-gz -1 < "$T/src" > "$T/src.gz"
	start_chain '"$FIX/trickle" "$T/src.gz" |
	    "$FIX/savepid" "$T/up.pid" bk-gz -d |
	    bk-gz > "$T/out.gz" 2> "$T/err"'
	kill_when_streaming up KILL
	finish_chain
	err=$(cat "$T/err")
	expect_status 4
	expect_msg "$err" "bk-gz"
	printf '%s\n' "$err" | grep -qi upstream ||
	    fail "the message does not mention upstream: $err"
	[ -s "$T/out.gz" ] || fail "no output at all before the kill"
	! gzip -t < "$T/out.gz" 2> /dev/null || fail "gzip -t accepts the output"
	io "$T/out.gz" /dev/null bk-gz -t
	expect_status 1
}

@test "an upstream bk-gz -d that fails by itself: bk-gz exits 4, no trailer" {
	make_crc_corrupt
	head -c $(($(fsize "$T/good.gz") / 2)) "$T/good.gz" > "$T/trunc.gz"
	{ cat "$T/good.gz"; echo junk; } > "$T/junk.gz"
	for bad in crc trunc junk; do
		{
			bk-gz -d < "$T/$bad.gz" 2> "$T/e1" | bk-gz > "$T/out.gz" 2> "$T/e2"
			ps=("${PIPESTATUS[@]}")
		} || true
		expect_eq "${ps[*]}" "1 4" "bk-gz -d < $bad.gz | bk-gz: exit statuses"
		err=$(cat "$T/e2")
		expect_msg "$err" "downstream of $bad.gz"
		printf '%s\n' "$err" | grep -qi upstream ||
		    fail "the message does not mention upstream: $err"
		! gzip -t < "$T/out.gz" 2> /dev/null ||
		    fail "$bad.gz: gzip -t accepts the output"
		! gzip -dc < "$T/out.gz" 2> /dev/null | cmp -s - "$T/data" ||
		    fail "$bad.gz: the output decompresses to the whole data"
	done
}

@test "an upstream failure propagates through three stages" {
	make_crc_corrupt
	{
		bk-gz -d < "$T/crc.gz" 2> /dev/null | bk-gz 2> "$T/e2" |
		    bk-gz -d > "$T/out" 2> "$T/e3"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "1 4 4" "bk-gz -d < crc.gz | bk-gz | bk-gz -d: exit statuses"
	expect_msg "$(cat "$T/e3")" "last stage"
	{
		bk-gz -d < "$T/crc.gz" 2> /dev/null | bk-gz 2> /dev/null |
		    bk-gz -d 2> /dev/null | bk-gz -9 > "$T/out.gz" 2> "$T/e4"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "1 4 4 4" "four stages: exit statuses"
	! gzip -t < "$T/out.gz" 2> /dev/null || fail "gzip -t accepts the output"
	# a testing reader too
	{
		bk-gz -d < "$T/crc.gz" 2> /dev/null | bk-gz -1 2> /dev/null |
		    bk-gz -t > "$T/out" 2> "$T/e3"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "1 4 4" "bk-gz -d < crc.gz | bk-gz | bk-gz -t: exit statuses"
	expect_empty "$T/out" "stdout of bk-gz -t"
	{ bk-gz < "$T/data" | bk-gz -t; ps=("${PIPESTATUS[@]}"); } || true
	expect_eq "${ps[*]}" "0 0" "bk-gz | bk-gz -t: exit statuses"
}

@test "kill -9 of the first of three stages propagates to the last" {
	start_chain '"$FIX/trickle" -n 1500 /dev/urandom |
	    "$FIX/savepid" "$T/up.pid" bk-gz -p 1 -1 |
	    bk-gz -d 2> "$T/err2" |
	    bk-gz -p 1 > "$T/out.gz" 2> "$T/err"'
	kill_when_streaming up KILL
	finish_chain
	err=$(cat "$T/err")
	expect_status 4
	expect_msg "$err" "last stage"
	! gzip -t < "$T/out.gz" 2> /dev/null || fail "gzip -t accepts the output"
}

@test "under /bin/sh (no pipefail) the failure still shows in \$?" {
	make_crc_corrupt
	for sh in dash sh; do
		command -v "$sh" > /dev/null || continue
		st=$("$sh" -c 'bk-gz -d < "$T/crc.gz" 2>/dev/null | bk-gz > "$T/out.gz" 2>/dev/null; echo $?')
		expect_eq "$st" 4 "$sh -c 'bk-gz -d < crc.gz | bk-gz'; echo \$?"
		st=$("$sh" -c 'bk-gz -d < "$T/good.gz" | bk-gz > "$T/out.gz"; echo $?')
		expect_eq "$st" 0 "$sh -c 'bk-gz -d < good.gz | bk-gz'; echo \$?"
		gzip -dc < "$T/out.gz" | cmp -s - "$T/data" || fail "$sh: the good chain lost data"
	done
}

@test "an upstream usage error: the downstream does not report success" {
	echo data > "$T/file"
	for args in --bogus "$T/file" "-p 0" "-b 1K"; do
		{
			# shellcheck disable=SC2086
			bk-gz $args < /dev/null 2> /dev/null | bk-gz -d > "$T/out" 2> "$T/e2"
			ps=("${PIPESTATUS[@]}")
		} || true
		expect_eq "${ps[*]}" "2 4" "bk-gz $args | bk-gz -d: exit statuses"
		expect_msg "$(cat "$T/e2")" "bk-gz -d after bk-gz $args"
	done
	{
		bk-gz --bogus < /dev/null 2> /dev/null | bk-gz > "$T/out.gz" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "2 4" "bk-gz --bogus | bk-gz: exit statuses"
	! gzip -t < "$T/out.gz" 2> /dev/null || fail "gzip -t accepts the output"
}

@test "records are cleaned up after sealed chains, good or failed" {
	mkdata_text "$T/in" $((1 * MiB)) 5
	bk-gz < "$T/in" | bk-gz -d > "$T/out"
	expect_same "$T/out" "$T/in"
	[ -z "$(rundir_entries)" ] ||
	    fail "left in the run dir after a good chain: $(rundir_entries)"
	{ bk-gz < "$T/in" | bk-gz -d | bk-gz | bk-gz -d > "$T/out"; } || true
	[ -z "$(rundir_entries)" ] ||
	    fail "left in the run dir after a four-stage chain: $(rundir_entries)"
	make_crc_corrupt
	{ bk-gz -d < "$T/crc.gz" 2> /dev/null | bk-gz > /dev/null 2>&1; } || true
	[ -z "$(rundir_entries)" ] ||
	    fail "left in the run dir after a failed chain: $(rundir_entries)"
	{ bk-gz --bogus 2> /dev/null | bk-gz -d > /dev/null 2>&1; } || true
	[ -z "$(rundir_entries)" ] ||
	    fail "left in the run dir after an upstream usage error: $(rundir_entries)"
	# files and named FIFOs are not sealed: nothing is recorded
	bk-gz < "$T/in" > "$T/in.gz"
	bk-gz -d < "$T/in.gz" > "$T/out"
	[ -z "$(rundir_entries)" ] ||
	    fail "left in the run dir by file-to-file runs: $(rundir_entries)"
}

@test "the run dir is made private (0700) where the writer first needs it" {
	mkdata_text "$T/in" 100000 6
	# a writer whose reader is not a bk tool leaves its record behind
	bk-gz < "$T/in" | cat > /dev/null
	[ -d "$BK_RUNDIR" ] || fail "$BK_RUNDIR was not created"
	expect_eq "$(stat -c %a "$BK_RUNDIR")" 700 "mode of $BK_RUNDIR"
	[ -n "$(rundir_entries)" ] || fail "no record in $BK_RUNDIR"
	# without BK_RUNDIR: $XDG_RUNTIME_DIR/bk
	unset BK_RUNDIR
	mkdir -m 0700 "$T/xdg"
	export XDG_RUNTIME_DIR=$T/xdg
	bk-gz < "$T/in" | cat > /dev/null
	[ -d "$T/xdg/bk" ] || fail "\$XDG_RUNTIME_DIR/bk was not created"
	expect_eq "$(stat -c %a "$T/xdg/bk")" 700 "mode of \$XDG_RUNTIME_DIR/bk"
	[ -n "$(find "$T/xdg/bk" -mindepth 1)" ] || fail "no record in \$XDG_RUNTIME_DIR/bk"
	{ bk-gz < "$T/in" | bk-gz -d > "$T/out"; ps=("${PIPESTATUS[@]}"); } || true
	expect_eq "${ps[*]}" "0 0" "a chain under XDG_RUNTIME_DIR"
	expect_same "$T/out" "$T/in"
}

@test "a named FIFO is not sealed: the transfer works and leaves no record" {
	mkdata_text "$T/in" $((1 * MiB)) 7
	mkfifo "$T/fifo"
	bk-gz < "$T/in" > "$T/fifo" 2> "$T/e1" 3>&- &
	writer=$!
	track "$writer"
	io "$T/fifo" "$T/out" bk-gz -d
	expect_status 0
	wst=0
	wait "$writer" || wst=$?
	expect_eq "$wst" 0 "exit status of the writer into the FIFO"
	expect_same "$T/out" "$T/in"
	expect_empty "$T/e1"
	[ -z "$(rundir_entries)" ] ||
	    fail "left in the run dir after a named FIFO: $(rundir_entries)"
}

# unsafe_rundir_works: with $BK_RUNDIR unusable, a chain still works, each
# tool warns, the reader's journal says unsealed, nothing is written there.
unsafe_rundir_works() {
	mkdata_text "$T/in" $((1 * MiB)) 8
	{
		bk-gz < "$T/in" 2> "$T/e1" |
		    BK_JOURNAL=$T/journal bk-gz -d > "$T/out" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0" "exit statuses with an unsafe run dir ($1)"
	expect_same "$T/out" "$T/in"
	expect_lines_bk "$(cat "$T/e1" "$T/e2")" "warnings about the run dir ($1)"
	[ -z "$(rundir_entries)" ] ||
	    fail "records written into an unsafe run dir ($1): $(rundir_entries)"
	if [ -n "$PY" ]; then
		jcheck "$T/journal" --lines 1 'outcome="ok"' 'seal="unsealed"' ||
		    fail "the reader's journal ($1)"
	fi
	# a failed upstream cannot be seen, but nothing else breaks
	bk-gz < "$T/in" 2> /dev/null | cat > /dev/null
	[ -z "$(rundir_entries)" ] ||
	    fail "records written into an unsafe run dir ($1): $(rundir_entries)"
}

@test "a run dir open to others (0777): warning, still works, unsealed" {
	mkdir "$BK_RUNDIR"
	chmod 0777 "$BK_RUNDIR"
	unsafe_rundir_works "mode 0777"
}

@test "a run dir owned by another user: warning, still works, unsealed" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to chown"
	id nobody > /dev/null 2>&1 || skip "no user nobody"
	mkdir -m 0700 "$BK_RUNDIR"
	chown nobody "$BK_RUNDIR"
	unsafe_rundir_works "owned by nobody"
}
