#!/usr/bin/env bats
# The pipeline seal (design.md), with real processes: a bk tool reading a
# pipe fails (exit 4) when the bk tool writing it failed or was killed, and
# then does not write the clean end of its own format.

load helper

# start_chain PIPELINE [SECONDS]: run PIPELINE under bash -c in the
# background (in its own shell, which reaps each stage as it ends, as a
# user's shell does), bounded by a timeout (default 90 s) so that a hang
# fails instead of blocking.  The variables it uses ($T, $FIX, ...) are
# expanded by that shell.
start_chain() {
	chain_limit=${2:-90}
	timeout "$chain_limit" bash -c "$1" 3>&- &
	chain=$!
	track "$chain"
}

# finish_chain: wait for it; $status is the exit status of its last stage.
finish_chain() {
	status=0
	wait "$chain" || status=$?
	[ "$status" -ne 124 ] ||
	    fail "the pipeline hung (killed after $chain_limit s)"
}

# A pipeline stage prefix that runs its command, then writes the CPU time
# (user and system) that the command used to $T/cpu: bash's "times", so
# that no time(1) is needed.
CPU='bash -c '\''"$@"; s=$?; times > "$T/cpu"; exit $s'\'' cpu'

# cpu_small WHAT: the command run under $CPU used under a second of CPU
# (it waits, at most 10 s, asleep: a loop that spins would use about as
# much CPU as it waits).  No wall-clock threshold.
cpu_small() {
	local cpu
	[ -s "$T/cpu" ] || fail "$1: no CPU time recorded" || return 1
	cpu=$(awk 'NR == 2 { t = 0
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
		print t }' "$T/cpu")
	awk -v c="$cpu" 'BEGIN { exit !(c < 1.0) }' ||
	    fail "$1: the reader used $cpu s of CPU"
}

# fake_writer PID START STATE: a pipeline stage that writes, for its
# stdout, the record a bk writer with PID and START (ticks since boot, as
# in /proc/PID/stat) would have left in state STATE, then exits without
# writing a byte: what the reader finds after a writer vanished, or one
# it cannot tell from a live one.
fake_writer() {
	printf '%s' "bash -c 'set -e
	    read -r dev ino < <(stat -L -c \"%d %i\" /proc/\$\$/fd/1)
	    d=\$(printf \"%s/p%x-%x\" \"\$BK_RUNDIR\" \"\$dev\" \"\$ino\")
	    mkdir -p -m 0700 \"\$BK_RUNDIR\" \"\$d\"
	    echo $3 > \"\$d/$1.$2\"'"
}

# start_time PID: its start time, field 22 of /proc/PID/stat (counted from
# the last ')', the command name may hold blanks and parentheses).
start_time() {
	sed 's/.*) //' "/proc/$1/stat" | cut -d ' ' -f 20
}

# rundir_has STATE: an entry in the run dir says STATE.
rundir_has() {
	grep -qx "$1" "$BK_RUNDIR"/p*/* 2> /dev/null
}

# in_init_pid_ns: records are checked against /proc only from there.
in_init_pid_ns() {
	[ "$(readlink /proc/self/ns/pid)" = "pid:[4026531836]" ]
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

# --- a reader never waits without a bound, never spins --------------------

@test "bk-gz --bogus-option | bk-gz -d: the reader concludes at once, asleep" {
	for args in --bogus-option "-p 0" "-b 1K" extra-arg; do
		start_chain 'bk-gz '"$args"' < /dev/null 2> /dev/null |
		    '"$CPU"' bk-gz -d > "$T/out" 2> "$T/err"' 30
		finish_chain
		expect_status 4
		expect_msg "$(cat "$T/err")" "bk-gz -d after bk-gz $args"
		cpu_small "bk-gz $args | bk-gz -d"
	done
	[ -z "$(rundir_entries)" ] || fail "left in the run dir: $(rundir_entries)"
}

@test "a writer in a pid namespace without its own /proc, killed: exit 4, no hang" {
	# The writer's pid in its namespace (1) is, in /proc, the host's init,
	# alive forever with the very start time the writer read: the reader
	# must not take it for the writer.
	flags=
	if ! unshare -p -f --kill-child true 2> /dev/null; then
		unshare -r -p -f --kill-child true 2> /dev/null ||
		    skip "cannot make a pid namespace"
		flags=-r
	fi
	start_chain 'sh -c "sleep 3; exec cat /dev/zero" 2> /dev/null |
	    "$FIX/savepid" "$T/ns.pid" unshare '"$flags"' -p -f --kill-child bk-gz 2> /dev/null |
	    '"$CPU"' bk-gz -d > /dev/null 2> "$T/err"' 60
	pid=$(victim_pid ns)
	wait_for 30 rundir_has_record
	kill -9 "$pid"		# unshare; --kill-child takes the writer too
	finish_chain
	expect_status 4
	grep -qi upstream "$T/err" || fail "no mention of upstream: $(cat "$T/err")"
	cpu_small "reader of a killed writer in a pid namespace"
	# and a good run through a namespace is sealed and ok
	mkdata_text "$T/in" 300000 9
	{
		unshare $flags -p -f --kill-child bk-gz < "$T/in" 2> /dev/null |
		    BK_JOURNAL=$T/journal bk-gz -d > "$T/out" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0" "unshare bk-gz | bk-gz -d"
	expect_same "$T/out" "$T/in"
	expect_empty "$T/e2"
	if [ -n "$PY" ]; then
		jcheck "$T/journal" --lines 1 'seal="ok"' ||
		    fail "the reader's journal: not sealed ok"
	fi
}

@test "a writer entry 'running' whose pid is alive with its start time: bounded wait, exit 4" {
	# What a reader finds when it cannot tell the writer is gone (a pid
	# namespace, no /proc): it must give up after a while, asleep.
	sleep 300 &
	other=$!
	track "$other"
	start=$(start_time "$other")
	start_chain "$(fake_writer "$other" "$start" running) |
	    $CPU bk-gz -d > /dev/null 2> \"\$T/err\"" 60
	finish_chain
	expect_status 4
	expect_msg "$(cat "$T/err")"
	cpu_small "reader of a writer that looks alive"
	kill "$other"
}

@test "a writer entry 'running' whose pid was recycled (other start time): exit 4 at once" {
	sleep 300 &
	other=$!
	track "$other"
	start=$(( $(start_time "$other") + 4242 ))
	start_chain "$(fake_writer "$other" "$start" running) |
	    $CPU bk-gz -d > /dev/null 2> \"\$T/err\"" 30
	finish_chain
	expect_status 4
	cpu_small "reader, recycled pid"
	kill "$other"
	# a "running flock" entry whose lock nobody holds: gone, whatever its
	# pid says (here: alive, right start time)
	sleep 300 &
	other=$!
	track "$other"
	start=$(start_time "$other")
	start_chain "$(fake_writer "$other" "$start" "running flock") |
	    $CPU bk-gz -d > /dev/null 2> \"\$T/err\"" 30
	finish_chain
	expect_status 4
	cpu_small "reader, lock not held"
	kill "$other"
}

@test "a writer entry 'running' whose pid is a zombie: exit 4 at once" {
	# sh leaves its child "true" unreaped once it has exec'd sleep
	sh -c 'true & exec sleep 300' &
	parent=$!
	track "$parent"
	wait_for 10 grep -q . "/proc/$parent/task/$parent/children" 2> /dev/null ||
	    skip "no /proc/PID/task/PID/children"
	zombie=$(awk '{ print $1 }' "/proc/$parent/task/$parent/children")
	wait_for 10 grep -q '^State:.*Z' "/proc/$zombie/status"
	start=$(start_time "$zombie")
	start_chain "$(fake_writer "$zombie" "$start" running) |
	    $CPU bk-gz -d > /dev/null 2> \"\$T/err\"" 30
	finish_chain
	expect_status 4
	cpu_small "reader, zombie writer"
	kill "$parent"
}

@test "a writer whose command name holds ') (' and blanks: sealed, and seen to die" {
	mkdir "$T/bin"
	ln -s "$(command -v bk-gz)" "$T/bin/bk) (gz x"
	mkdata_text "$T/in" 300000 10
	{
		"$T/bin/bk) (gz x" < "$T/in" | bk-gz -d > "$T/out" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0" "exit statuses through a writer named 'bk) (gz x'"
	expect_same "$T/out" "$T/in"
	start_chain 'sh -c "sleep 3; exec cat /dev/zero" 2> /dev/null |
	    "$FIX/savepid" "$T/up.pid" "$T/bin/bk) (gz x" |
	    '"$CPU"' bk-gz -d > /dev/null 2> "$T/err"' 60
	pid=$(victim_pid up)
	wait_for 30 rundir_has_record
	kill -9 "$pid"
	finish_chain
	expect_status 4
	cpu_small "reader of a killed 'bk) (gz x'"
}

# --- records left behind -----------------------------------------------------

@test "a writer whose reader exited early leaves no record" {
	mkdata_random "$T/in" $((4 * MiB))
	{ bk-gz -1 < "$T/in" 2> /dev/null | head -c 100 > /dev/null; } || true
	[ -z "$(rundir_entries)" ] ||
	    fail "left in the run dir after bk-gz | head: $(rundir_entries)"
}

@test "a record whose pipe is gone (reader not a bk tool) is collected by the next writer" {
	in_init_pid_ns || skip "records are checked against /proc only in the initial pid namespace"
	mkdata_text "$T/in" 100000 11
	bk-gz < "$T/in" | cat > /dev/null
	{ bk-gz --bogus 2> /dev/null | gzip -dc > /dev/null 2>&1; } || true
	[ "$(find "$BK_RUNDIR" -mindepth 1 -maxdepth 1 | wc -l)" -eq 2 ] ||
	    fail "expected two records left behind: $(rundir_entries)"
	# under a minute old: kept
	bk-gz < "$T/in" | bk-gz -d > "$T/out"
	[ "$(find "$BK_RUNDIR" -mindepth 1 -maxdepth 1 | wc -l)" -eq 2 ] ||
	    fail "young records were collected: $(rundir_entries)"
	find "$BK_RUNDIR" -mindepth 1 -exec touch -d '-5 minutes' {} +
	bk-gz < "$T/in" | bk-gz -d > "$T/out"
	expect_same "$T/out" "$T/in"
	[ -z "$(rundir_entries)" ] ||
	    fail "records of gone pipes were not collected: $(rundir_entries)"
}

@test "a late reader still finds the verdict: records of live pipes are never collected" {
	in_init_pid_ns || skip "records are checked against /proc only in the initial pid namespace"
	mkdata_text "$T/in" 100000 12
	for ago in '-5 minutes' '-2 days'; do
		rm -f "$T/go"
		# the writer fails at once; its reader starts only on $T/go
		# (or after a minute, so that nothing is left running)
		start_chain 'bk-gz --bogus 2> /dev/null |
		    sh -c "i=0; while [ ! -e \"\$T/go\" ] && [ \$i -lt 1200 ]; do
			sleep 0.05; i=\$((i + 1)); done
			exec bk-gz > \"\$T/out.gz\" 2> \"\$T/err\""' 90
		wait_for 30 rundir_has failed
		find "$BK_RUNDIR" -mindepth 1 -exec touch -d "$ago" {} +
		# other writers come and go, collecting
		bk-gz < "$T/in" | bk-gz -d > "$T/out"
		bk-gz < "$T/in" | cat > /dev/null
		touch "$T/go"
		finish_chain
		[ "$status" -eq 4 ] || fail "record aged $ago: the late reader" \
		    "exited $status, expected 4 (the verdict was collected?)"
		grep -qi upstream "$T/err" ||
		    fail "record aged $ago: the late reader missed the failure: $(cat "$T/err")"
	done
}
