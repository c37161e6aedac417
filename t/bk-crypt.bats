#!/usr/bin/env bats
# bk-crypt: interoperability with age 1.1.1 in both directions (X25519 keys
# made by either tool, passphrases, binary and armored, chunk-boundary and
# large sizes), several recipients, wrong keys and passphrases, corrupt,
# truncated and extended files, armor, key generation, the pipeline seal,
# usage, secrets and the scrypt work factor cap.

load helper

setup() {
	bk_setup
	if [ ! -x "$BK_ROOT/bin/bk-crypt" ]; then
		echo "bin/bk-crypt is not built: run make" >&2
		return 1
	fi
}

# The sizes of every interop test: empty, 1 byte, one chunk exactly, one
# chunk and a byte, 1 MiB (16 full chunks, the final one full too).
SIZES="0 1 65536 65537 1048576"
CHUNK=65536
CCHUNK=65552		# a chunk in the file: 64 KiB of data and a 16-byte tag
BIG=$((200 * MiB))	# the large streams
PASS='correct horse battery staple'

# --- keys, data, files -------------------------------------------------------

# keys: $KB and $RB, an identity made by bk-crypt --keygen and its
# recipient; $KA and $RA, the same made by age-keygen (where it exists).
keys() {
	KB=$T/bk.key
	bk-crypt --keygen -o "$KB" 2> "$T/keygen.err" ||
	    fail "bk-crypt --keygen -o: $(cat "$T/keygen.err")" || return 1
	RB=$(bk-crypt --to-recipient -i "$KB")
	KA=$T/age.key
	RA=
	if command -v age-keygen > /dev/null 2>&1; then
		age-keygen -o "$KA" 2> /dev/null
		RA=$(age-keygen -y "$KA")
	fi
}

# passfile FILE TEXT: a passphrase file (TEXT and a newline), mode 0600.
passfile() {
	printf '%s\n' "$2" > "$1"
	chmod 600 "$1"
}

# master: $T/master, 1 MiB + 1 of random bytes to cut the inputs from.
master() {
	mkdata_random "$T/master" $((1 * MiB + 1))
}

# cut_in SIZE: $T/in = the first SIZE bytes of the master.
cut_in() {
	head -c "$1" "$T/master" > "$T/in"
}

# bigstream SEED SIZE: SIZE pseudo-random bytes on stdout, the same for
# the same SEED, so that a large stream can be made twice instead of
# being kept on disk.
bigstream() {
	"$PY" -c '
import random, sys
r = random.Random(int(sys.argv[1]))
n = int(sys.argv[2])
o = sys.stdout.buffer
while n > 0:
    k = min(n, 1 << 20)
    o.write(r.randbytes(k))
    n -= k
' "$1" "$2"
}

# hdr FILE PART: the offset in the binary age file FILE of PART: "share"
# (the first argument of the first stanza), "body" (its body line), "mac"
# (the MAC on the "---" line) or "end" (the first byte after the header:
# the payload nonce).
hdr() {
	"$PY" -c '
import sys
d = open(sys.argv[1], "rb").read(8192)
i = d.index(b"\n--- ")
l2 = d.index(b"\n") + 1
print({"share": d.index(b" ", l2 + 3) + 1,
       "body": d.index(b"\n", l2) + 1,
       "mac": i + 5,
       "end": d.index(b"\n", i + 1) + 1}[sys.argv[2]])
' "$1" "$2"
}

# subst FILE OFFSET: replace the base64 character at OFFSET with another
# one ("A", or "B" where it was "A"): the file still parses, its bytes
# differ.
subst() {
	local c
	c=$(dd if="$1" bs=1 skip="$2" count=1 status=none)
	[ "$c" = A ] && c=B || c=A
	printf %s "$c" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

# --- assertions --------------------------------------------------------------

# expect_cmsg TEXT [WHAT]: TEXT is exactly one line starting "bk-crypt: ".
expect_cmsg() {
	local n
	[ -n "$1" ] || fail "${2:-stderr}: no message, expected one 'bk-crypt: ...' line" || return 1
	n=$(printf '%s\n' "$1" | wc -l)
	[ "$n" -eq 1 ] || fail "${2:-stderr}: $n lines, expected one: $1" || return 1
	case $1 in
	"bk-crypt: "?*) ;;
	*) fail "${2:-stderr}: '$1' does not start with 'bk-crypt: '" ;;
	esac
}

# expect_match TEXT REGEX WHAT: TEXT matches the extended REGEX
# (case-insensitive).
expect_match() {
	printf '%s\n' "$1" | grep -Eqi -- "$2" ||
	    fail "$3: '$1' does not match /$2/"
}

# must IN OUT WHAT CMD [ARG...]: CMD <IN >OUT exits 0.
must() {
	local in=$1 out=$2 what=$3
	shift 3
	io "$in" "$out" "$@"
	[ "$status" -eq 0 ] || fail "$what: $* exit $status: $err"
}

# same A B WHAT: byte-identical files.
same() {
	cmp -s "$1" "$2" ||
	    fail "$3: $(fsize "$1") bytes that differ from the $(fsize "$2") expected"
}

# usage_error ARGS...: bk-crypt ARGS </dev/null exits 2, writes nothing on
# stdout, and on stderr a "bk-crypt: " line and the usage lines.
usage_error() {
	io /dev/null "$T/u.out" bk-crypt "$@"
	[ "$status" -eq 2 ] ||
	    fail "bk-crypt $*: exit $status, expected 2; stderr: $err" || return 1
	expect_empty "$T/u.out" "stdout of bk-crypt $*" || return 1
	expect_cmsg "$(printf '%s\n' "$err" | head -n 1)" "bk-crypt $*" || return 1
	printf '%s\n' "$err" | grep -q '^usage: bk-crypt ' ||
	    fail "bk-crypt $*: no usage line: $err"
}

# bad_dec FILE WHAT [REGEX] [DECRYPT ARGS...]: bk-crypt -d (-i $KB unless
# ARGS are given) < FILE exits 1 with one "bk-crypt: " line matching
# REGEX; what it wrote is in $T/bad.out.
bad_dec() {
	local f=$1 what=$2 re=${3:-}
	shift 3 2> /dev/null || shift $#
	[ $# -gt 0 ] || set -- -i "$KB"
	io "$f" "$T/bad.out" bk-crypt -d "$@"
	[ "$status" -eq 1 ] ||
	    fail "$what: bk-crypt -d exit $status, expected 1; stderr: $err" || return 1
	expect_cmsg "$err" "$what: bk-crypt -d stderr" || return 1
	[ -z "$re" ] || expect_match "$err" "$re" "$what: the message"
}

# age_refuses FILE KEY WHAT: age -d also rejects FILE (the damage is real).
age_refuses() {
	command -v age > /dev/null 2>&1 || return 0
	! age -d -i "$2" < "$1" > /dev/null 2>&1 ||
	    fail "$3: age -d accepts the file: the test damaged nothing"
}

# released_prefix WHAT LIMIT INPUT: $T/bad.out is a whole number of chunks,
# at most LIMIT bytes, and the start of INPUT: nothing of a chunk whose tag
# failed was released.
released_prefix() {
	local n
	n=$(fsize "$T/bad.out")
	[ $((n % CHUNK)) -eq 0 ] ||
	    fail "$1: $n bytes released: not a whole number of 64 KiB chunks" || return 1
	[ "$n" -le "$2" ] ||
	    fail "$1: $n bytes released, more than the $2 before the damage" || return 1
	cmp -s -n "$n" "$T/bad.out" "$3" ||
	    fail "$1: the $n bytes released are not the start of the plaintext"
}

# --- a pseudo-terminal for age's passphrase prompts -------------------------

# ptyrun PASS CMD [ARG...]: run CMD on a new pseudo-terminal (age reads a
# passphrase only from a terminal), typing PASS and Enter at every
# "Enter passphrase" and "Confirm passphrase" prompt.  What the terminal
# showed goes to $T/pty.log (and $err).  Sets $status; kills CMD after
# 120 s.
ptyrun() {
	local pass=$1
	shift
	[ -f "$T/ttydrive.py" ] || cat > "$T/ttydrive.py" <<'EOF'
import os, pty, select, signal, sys, time
log = open(sys.argv[1], "wb")
argv = sys.argv[2:]
answer = os.environ.pop("PTY_PASS").encode() + b"\n"
pid, fd = pty.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
seen, sent = b"", 0
deadline = time.monotonic() + 120
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        os.kill(pid, signal.SIGKILL)
        log.write(b"\npty.py: timed out, killed\n")
        break
    if not select.select([fd], [], [], min(left, 1.0))[0]:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:          # EIO: the child closed the terminal
        break
    if not data:
        break
    log.write(data)
    seen += data
    prompts = seen.count(b"Enter passphrase") + seen.count(b"Confirm passphrase")
    while sent < prompts:
        os.write(fd, answer)
        sent += 1
_, st = os.waitpid(pid, 0)
sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))
EOF
	status=0
	PTY_PASS=$pass "$PY" "$T/ttydrive.py" "$T/pty.log" "$@" || status=$?
	err=$(tr -d '\r' < "$T/pty.log")
}

# --- interoperability with age ---------------------------------------------

@test "age decrypts what bk-crypt encrypts to keys from bk-crypt and age-keygen" {
	skip_unless age
	keys
	master
	for s in $SIZES; do
		cut_in "$s"
		for k in B A; do
			eval "r=\$R$k key=\$K$k"
			for a in "" -a; do
				name=bk-crypt
				[ "$k" = B ] || name=age-keygen
				what="$s bytes, bk-crypt $a -r (a key by $name)"
				# shellcheck disable=SC2086
				must "$T/in" "$T/x.age" "$what" bk-crypt $a -r "$r"
				expect_empty "$T/stderr" "$what: stderr"
				must "$T/x.age" "$T/out" "$what: age -d" age -d -i "$key"
				same "$T/out" "$T/in" "$what: age -d"
				# and as a file operand, the way users run it
				must /dev/null "$T/out" "$what: age -d FILE" \
				    age -d -i "$key" "$T/x.age"
				same "$T/out" "$T/in" "$what: age -d FILE"
			done
		done
	done
}

@test "bk-crypt decrypts what age encrypts to keys from bk-crypt and age-keygen" {
	skip_unless age
	keys
	master
	for s in $SIZES; do
		cut_in "$s"
		for k in B A; do
			eval "r=\$R$k key=\$K$k"
			for a in "" -a; do
				name=bk-crypt
				[ "$k" = B ] || name=age-keygen
				what="$s bytes, age $a -r (a key by $name)"
				# shellcheck disable=SC2086
				must "$T/in" "$T/x.age" "$what" age $a -r "$r"
				must "$T/x.age" "$T/out" "$what: bk-crypt -d" \
				    bk-crypt -d -i "$key"
				expect_empty "$T/stderr" "$what: bk-crypt -d stderr"
				same "$T/out" "$T/in" "$what: bk-crypt -d"
			done
		done
	done
}

@test "a 200 MiB stream, bk-crypt to age, streamed and compared by SHA-256" {
	skip_unless age
	keys
	want=$(bigstream 1 "$BIG" | sha)
	for a in "" -a; do
		{
			# shellcheck disable=SC2086
			bigstream 1 "$BIG" |
			    /usr/bin/time -o "$T/rss" -f %M bk-crypt $a -r "$RA" 2> "$T/e1" |
			    age -d -i "$KA" 2> "$T/e2" | sha256sum > "$T/sha"
			ps=("${PIPESTATUS[@]}")
		} || true
		expect_eq "${ps[*]}" "0 0 0 0" "bigstream | bk-crypt $a | age -d | sha256sum: exit statuses ($(cat "$T/e1" "$T/e2"))"
		expect_eq "$(cut -d ' ' -f 1 "$T/sha")" "$want" "SHA-256 of bk-crypt $a | age -d"
		# constant memory: a few MiB, whatever the length of the stream
		rss=$(tail -n 1 "$T/rss")
		[ "$rss" -lt "$(rss_max 32768)" ] || fail "bk-crypt $a used $rss KiB for 200 MiB"
	done
}

@test "a 200 MiB stream, age to bk-crypt, streamed and compared by SHA-256" {
	skip_unless age
	keys
	n=$((BIG + 12345))	# a partial final chunk this time
	want=$(bigstream 2 "$n" | sha)
	for a in "" -a; do
		{
			# shellcheck disable=SC2086
			bigstream 2 "$n" | age $a -r "$RB" 2> "$T/e1" |
			    /usr/bin/time -o "$T/rss" -f %M bk-crypt -d -i "$KB" 2> "$T/e2" |
			    sha256sum > "$T/sha"
			ps=("${PIPESTATUS[@]}")
		} || true
		expect_eq "${ps[*]}" "0 0 0 0" "bigstream | age $a | bk-crypt -d | sha256sum: exit statuses ($(cat "$T/e1" "$T/e2"))"
		expect_eq "$(cut -d ' ' -f 1 "$T/sha")" "$want" "SHA-256 of age $a | bk-crypt -d"
		rss=$(tail -n 1 "$T/rss")
		[ "$rss" -lt "$(rss_max 32768)" ] || fail "bk-crypt -d used $rss KiB for 200 MiB"
	done
}

@test "age decrypts what bk-crypt encrypts with a passphrase (through a terminal)" {
	skip_unless age
	skip_unless_py
	master
	passfile "$T/pass" "$PASS"
	for s in $SIZES; do
		cut_in "$s"
		for a in "" -a; do
			what="$s bytes, bk-crypt $a --passphrase-file --work-factor 10"
			# shellcheck disable=SC2086
			must "$T/in" "$T/x.age" "$what" bk-crypt $a --work-factor 10 \
			    --passphrase-file "$T/pass"
			rm -f "$T/out"
			ptyrun "$PASS" age -d -o "$T/out" "$T/x.age"
			[ "$status" -eq 0 ] || fail "$what: age -d exit $status: $err"
			# age opens -o lazily, at the first byte it writes
			[ "$s" -ne 0 ] || [ -e "$T/out" ] || : > "$T/out"
			same "$T/out" "$T/in" "$what: age -d"
		done
	done
	# the default work factor (18), from BK_PASSPHRASE
	cut_in 65537
	BK_PASSPHRASE=$PASS must "$T/in" "$T/x.age" "default work factor" bk-crypt
	grep -a -q '^-> scrypt [A-Za-z0-9+/]* 18$' "$T/x.age" ||
	    fail "no '-> scrypt SALT 18' stanza: $(head -c 200 "$T/x.age" | cat -v)"
	rm -f "$T/out"
	ptyrun "$PASS" age -d -o "$T/out" "$T/x.age"
	[ "$status" -eq 0 ] || fail "default work factor: age -d exit $status: $err"
	same "$T/out" "$T/in" "default work factor: age -d"
	# a wrong passphrase: age refuses (the file is not readable by anyone)
	rm -f "$T/out"
	ptyrun "not $PASS" age -d -o "$T/out" "$T/x.age"
	[ "$status" -ne 0 ] || fail "age -d accepts a wrong passphrase"
}

@test "bk-crypt decrypts what age encrypts with a passphrase (work factor 18)" {
	skip_unless age
	skip_unless_py
	master
	passfile "$T/pass" "$PASS"
	for s in $SIZES; do
		cut_in "$s"
		for a in "" -a; do
			what="$s bytes, age $a -p"
			rm -f "$T/x.age"
			# shellcheck disable=SC2086
			ptyrun "$PASS" age $a -p -o "$T/x.age" "$T/in"
			[ "$status" -eq 0 ] || fail "$what: exit $status: $err"
			[ -z "$a" ] || head -n 1 "$T/x.age" | grep -q BEGIN ||
			    fail "$what: not armored"
			must "$T/x.age" "$T/out" "$what: bk-crypt -d --passphrase-file" \
			    bk-crypt -d --passphrase-file "$T/pass"
			same "$T/out" "$T/in" "$what: bk-crypt -d"
		done
	done
	# the same passphrase from a descriptor and from the environment,
	# and a wrong one
	io "$T/x.age" "$T/out" bk-crypt -d --passphrase-fd 3 3<<< "$PASS"
	expect_status 0
	same "$T/out" "$T/in" "--passphrase-fd"
	BK_PASSPHRASE=$PASS io "$T/x.age" "$T/out" bk-crypt -d
	expect_status 0
	same "$T/out" "$T/in" "BK_PASSPHRASE"
	passfile "$T/wrong" "not $PASS"
	bad_dec "$T/x.age" "age -p file, wrong passphrase" passphrase \
	    --passphrase-file "$T/wrong"
	expect_empty "$T/bad.out"
}

# --- recipients, identities, passphrases ------------------------------------

@test "several recipients: -r twice and -R with comments and blank lines; each identity decrypts" {
	keys
	for i in 3 4 5; do
		bk-crypt --keygen -o "$T/k$i" 2> /dev/null
	done
	r3=$(bk-crypt --to-recipient -i "$T/k3")
	r4=$(bk-crypt --to-recipient -i "$T/k4")
	r5=$(bk-crypt --to-recipient -i "$T/k5")
	mkdata_random "$T/in" 200000
	ids="$KB $T/k3 $T/k4 $T/k5"
	[ -z "$RA" ] || ids="$ids $KA"

	# -r twice
	must "$T/in" "$T/two.age" "-r -r" bk-crypt -r "$RB" -r "$r3"
	expect_eq "$(grep -a -c '^-> X25519 ' "$T/two.age")" 2 "stanzas for -r -r"
	for k in "$KB" "$T/k3"; do
		must "$T/two.age" "$T/out" "-r -r, -i $k" bk-crypt -d -i "$k"
		same "$T/out" "$T/in" "-r -r, -i $k"
	done
	bad_dec "$T/two.age" "-r -r, an identity of neither" "no identity" -i "$T/k4"

	# a recipients file with comments, blank lines and a trailing comment
	{
		echo "# the backup keys"
		echo
		[ -z "$RA" ] || echo "$RA"
		echo "# the offline key"
		echo "$r4"
		echo
		echo
		echo "$r5"
		printf '# no newline at the end'
	} > "$T/recipients"
	must "$T/in" "$T/many.age" "-R file" bk-crypt -R "$T/recipients" -r "$r3"
	n=2
	[ -z "$RA" ] || n=3
	expect_eq "$(grep -a -c '^-> X25519 ' "$T/many.age")" $((n + 1)) "stanzas for -R file -r"
	for k in $ids; do
		[ "$k" != "$KB" ] || continue
		must "$T/many.age" "$T/out" "-R file, -i $k" bk-crypt -d -i "$k"
		same "$T/out" "$T/in" "-R file, -i $k"
		if command -v age > /dev/null 2>&1; then
			must "$T/many.age" "$T/out" "-R file, age -d -i $k" age -d -i "$k"
			same "$T/out" "$T/in" "-R file, age -d -i $k"
		fi
	done
	bad_dec "$T/many.age" "-R file, an identity not in it" "no identity" -i "$KB"

	# -i repeated and an identity file with several keys: the one that
	# matches is found whatever its place
	must "$T/many.age" "$T/out" "-i -i" bk-crypt -d -i "$KB" -i "$T/k5"
	same "$T/out" "$T/in" "-i wrong -i right"
	cat "$KB" "$T/k4" > "$T/both"
	chmod 600 "$T/both"
	must "$T/many.age" "$T/out" "two keys in one file" bk-crypt -d -i "$T/both"
	same "$T/out" "$T/in" "two keys in one file"

	# age reads the same recipients file
	if command -v age > /dev/null 2>&1; then
		must "$T/in" "$T/age.age" "age -R" age -R "$T/recipients"
		for k in $ids; do
			[ "$k" != "$KB" ] && [ "$k" != "$T/k3" ] || continue
			must "$T/age.age" "$T/out" "age -R, bk-crypt -d -i $k" bk-crypt -d -i "$k"
			same "$T/out" "$T/in" "age -R, bk-crypt -d -i $k"
		done
	fi

	# a bad line in a recipients file is a usage error naming the line
	printf '# ok\n%s\nage1notarecipient\n' "$r3" > "$T/badrcp"
	usage_error -R "$T/badrcp"
	expect_match "$err" 'line 3' "-R with a bad line 3"
}

@test "a wrong identity: exit 1, 'no identity matches', nothing written" {
	keys
	bk-crypt --keygen -o "$T/other" 2> /dev/null
	mkdata_random "$T/in" 100000
	bk-crypt -r "$RB" < "$T/in" > "$T/x.age"
	bad_dec "$T/x.age" "bk-crypt file, wrong identity" "no identity matches" -i "$T/other"
	expect_empty "$T/bad.out"
	if command -v age > /dev/null 2>&1; then
		age -r "$RA" < "$T/in" > "$T/a.age"
		bad_dec "$T/a.age" "age file, wrong identity" "no identity matches" -i "$KB"
		expect_empty "$T/bad.out"
	fi
	# a passphrase file tried with an identity, a key file with a passphrase
	passfile "$T/pass" "$PASS"
	bk-crypt --work-factor 10 --passphrase-file "$T/pass" < "$T/in" > "$T/p.age"
	bad_dec "$T/p.age" "passphrase file, -i identity" "" -i "$KB"
	expect_empty "$T/bad.out"
	bad_dec "$T/x.age" "key file, --passphrase-file" "" --passphrase-file "$T/pass"
	expect_empty "$T/bad.out"
}

@test "passphrases: file, descriptor and environment; a wrong one exits 1" {
	mkdata_random "$T/in" 70000
	passfile "$T/pass" "$PASS"
	must "$T/in" "$T/f.age" "--passphrase-file" bk-crypt --work-factor 10 --passphrase-file "$T/pass"
	io "$T/in" "$T/d.age" bk-crypt --work-factor 10 --passphrase-fd 3 3<<< "$PASS"
	expect_status 0
	BK_PASSPHRASE=$PASS io "$T/in" "$T/e.age" bk-crypt --work-factor 10
	expect_status 0
	for f in f d e; do
		grep -a -q '^-> scrypt [A-Za-z0-9+/]* 10$' "$T/$f.age" ||
		    fail "$f.age: no '-> scrypt SALT 10' stanza"
		# the trailing newline of a file or here-string is not part of
		# the passphrase: every source gives the same key
		must "$T/$f.age" "$T/out" "$f.age, --passphrase-file" bk-crypt -d --passphrase-file "$T/pass"
		same "$T/out" "$T/in" "$f.age, --passphrase-file"
		printf %s "$PASS" > "$T/fd.in"
		io "$T/$f.age" "$T/out" bk-crypt -d --passphrase-fd 3 3< "$T/fd.in"
		expect_status 0
		same "$T/out" "$T/in" "$f.age, --passphrase-fd"
		BK_PASSPHRASE=$PASS io "$T/$f.age" "$T/out" bk-crypt -d
		expect_status 0
		same "$T/out" "$T/in" "$f.age, BK_PASSPHRASE"
	done
	passfile "$T/wrong" "$PASS!"
	bad_dec "$T/f.age" "wrong passphrase (file)" passphrase --passphrase-file "$T/wrong"
	expect_empty "$T/bad.out"
	BK_PASSPHRASE=Correct bad_dec "$T/f.age" "wrong passphrase (env)" passphrase -q
	expect_empty "$T/bad.out"
}

@test "key and passphrase files open to others are refused: exit 2, says chmod" {
	keys
	passfile "$T/pass" "$PASS"
	bk-crypt -r "$RB" < /dev/null > "$T/x.age"
	for m in 644 640 604 660 666; do
		chmod "$m" "$KB"
		io "$T/x.age" "$T/out" bk-crypt -d -i "$KB"
		expect_status 2
		expect_empty "$T/out"
		expect_match "$(head -n 1 "$T/stderr")" 'chmod|mode' "identity mode $m"
		expect_cmsg "$(head -n 1 "$T/stderr")"
		chmod "$m" "$T/pass"
		io /dev/null "$T/out" bk-crypt --work-factor 10 --passphrase-file "$T/pass"
		expect_status 2
		expect_empty "$T/out"
		expect_match "$err" 'chmod|mode' "passphrase file mode $m"
		io /dev/null "$T/out" bk-crypt --to-recipient -i "$KB"
		expect_status 2
		expect_empty "$T/out"
	done
	chmod 400 "$KB"
	must "$T/x.age" "$T/out" "identity mode 0400" bk-crypt -d -i "$KB"
}

@test "no secret on argv: --passphrase=xyz and friends are usage errors" {
	for args in "--passphrase=xyz" "--passphrase xyz" "-p xyz" \
	    "--password=xyz" "--identity-key=AGE-SECRET-KEY-1XYZ"; do
		# shellcheck disable=SC2086
		usage_error $args
		# and the value is not echoed back into logs
		! printf '%s\n' "$err" | grep -q 'xyz\|XYZ' ||
		    fail "bk-crypt $args: the message repeats the secret: $err"
	done
}

@test "an empty passphrase is refused (environment, file, descriptor)" {
	keys
	: > "$T/empty"
	printf '\n' > "$T/nl"
	chmod 600 "$T/empty" "$T/nl"
	BK_PASSPHRASE= usage_error --work-factor 10
	expect_match "$err" 'empty passphrase' "BK_PASSPHRASE="
	BK_PASSPHRASE= usage_error -d
	expect_match "$err" 'empty passphrase' "-d, BK_PASSPHRASE="
	for f in empty nl; do
		usage_error --work-factor 10 --passphrase-file "$T/$f"
		expect_match "$err" 'empty passphrase' "--passphrase-file ($f)"
		usage_error -d --passphrase-file "$T/$f"
		expect_match "$err" 'empty passphrase' "-d --passphrase-file ($f)"
		usage_error --work-factor 10 --passphrase-fd 3 3< "$T/$f"
		expect_match "$err" 'empty passphrase' "--passphrase-fd ($f)"
		# not silently dropped when a recipient is given too
		usage_error -r "$RB" --passphrase-file "$T/$f"
		expect_match "$err" 'empty passphrase' "-r R --passphrase-file ($f)"
	done
}

@test "BK_PASSPHRASE is wiped from the process and not inherited" {
	[ -r /proc/self/environ ] || skip "no /proc"
	secret="bk-test-$$-$RANDOM-secret"
	# bk-crypt blocks reading its input, after it has taken the passphrase
	mkfifo "$T/fifo"
	BK_PASSPHRASE=$secret "$FIX/savepid" "$T/c.pid" \
	    bk-crypt --work-factor 10 < "$T/fifo" > "$T/x.age" 2> "$T/e" 3>&- &
	bg=$!
	track "$bg"
	exec 4> "$T/fifo"
	wait_for 10 test -s "$T/c.pid"
	pid=$(cat "$T/c.pid")
	gone() { ! tr '\0' '\n' < "/proc/$pid/environ" | grep -q "$secret"; }
	named() { grep -q bk-crypt "/proc/$pid/comm"; }
	wait_for 10 named
	wait_for 10 gone || {
		exec 4>&-
		fail "the passphrase is still in /proc/$pid/environ"
	}
	echo data >&4
	exec 4>&-
	st=0
	wait "$bg" || st=$?
	expect_eq "$st" 0 "exit status of bk-crypt ($(cat "$T/e"))"
	BK_PASSPHRASE=$secret io "$T/x.age" "$T/out" bk-crypt -d
	expect_status 0
	expect_eq "$(cat "$T/out")" data "decrypted"
}

# --- corruption ------------------------------------------------------------

@test "a damaged header: exit 1, one line, nothing written" {
	keys
	mkdata_random "$T/in" 200000
	bk-crypt -r "$RB" < "$T/in" > "$T/good.age"
	share=$(hdr "$T/good.age" share)
	body=$(hdr "$T/good.age" body)
	mac=$(hdr "$T/good.age" mac)
	end=$(hdr "$T/good.age" end)
	for c in "version:3:0x20:not an age file|version|header" \
	    "version-end:20:0x01:not an age file|version|header" \
	    "stanza type:$((share - 7)):0x20:no identity|header|stanza" \
	    "share:$((share + 5)):b64:no identity|header" \
	    "share 0xff:$((share + 5)):0xff:header|base64|malformed" \
	    "body:$((body + 10)):b64:no identity|header" \
	    "body, last char:$((body + 42)):0x01:header|base64|malformed|no identity" \
	    "--- line:$((mac - 3)):0x01:header|malformed" \
	    "mac:$((mac + 3)):b64:MAC" \
	    "mac 0xff:$((mac + 20)):0xff:MAC|header" \
	    "mac newline:$((end - 1)):0x20:MAC|header|malformed"; do
		IFS=: read -r what off how re <<< "$c"
		cp "$T/good.age" "$T/x.age"
		if [ "$how" = b64 ]; then
			subst "$T/x.age" "$off"
		else
			flip "$T/x.age" "$off" $((how))
		fi
		cmp -s "$T/x.age" "$T/good.age" && fail "$what: nothing changed"
		age_refuses "$T/x.age" "$KB" "header, $what"
		bad_dec "$T/x.age" "header, $what (offset $off)" "$re"
		expect_empty "$T/bad.out" "output after a damaged header ($what)"
	done
}

@test "a flipped byte in the payload: exit 1, only the chunks before it are released" {
	keys
	n=$((5 * CHUNK + 1000))
	mkdata_random "$T/in" "$n"
	bk-crypt -r "$RB" < "$T/in" > "$T/good.age"
	p=$(( $(hdr "$T/good.age" end) + 16 ))
	total=$(fsize "$T/good.age")
	expect_eq "$total" $((p + 5 * CCHUNK + 1000 + 16)) "size of the file"
	# the nonce, first and last bytes of chunks, tags, the final chunk
	for off in $((p - 16)) $((p - 1)) $p $((p + 1)) $((p + CHUNK)) \
	    $((p + CCHUNK - 1)) $((p + CCHUNK)) $((p + 2 * CCHUNK + 30000)) \
	    $((p + 4 * CCHUNK + CHUNK + 3)) $((p + 5 * CCHUNK)) \
	    $((p + 5 * CCHUNK + 999)) $((total - 1)); do
		for mask in 0x01 0xff; do
			cp "$T/good.age" "$T/x.age"
			flip "$T/x.age" "$off" $((mask))
			what="payload byte $off ^ $mask"
			age_refuses "$T/x.age" "$KB" "$what"
			bad_dec "$T/x.age" "$what" "chunk|authenticat|corrupt"
			k=0
			[ "$off" -lt "$p" ] || k=$(( (off - p) / CCHUNK ))
			released_prefix "$what" $((k * CHUNK)) "$T/in"
		done
	done
}

@test "a truncated file: exit 1, including exactly at a chunk boundary" {
	keys
	n=$((3 * CHUNK))	# the final chunk is a full one
	mkdata_random "$T/in" "$n"
	bk-crypt -r "$RB" < "$T/in" > "$T/good.age"
	end=$(hdr "$T/good.age" end)
	mac=$(hdr "$T/good.age" mac)
	p=$((end + 16))
	total=$(fsize "$T/good.age")
	expect_eq "$total" $((p + 3 * CCHUNK)) "size of the file"
	for cut in 0 1 10 $((mac + 10)) $((end - 1)) $end $((end + 8)) $p \
	    $((p + 1)) $((p + 16)) $((p + 100)) $((p + CCHUNK - 1)) \
	    $((p + CCHUNK)) $((p + CCHUNK + 17)) $((p + 2 * CCHUNK)) \
	    $((total - 16)) $((total - 1)); do
		head -c "$cut" "$T/good.age" > "$T/x.age"
		what="truncated to $cut of $total bytes"
		age_refuses "$T/x.age" "$KB" "$what"
		bad_dec "$T/x.age" "$what"
		k=0
		[ "$cut" -lt "$p" ] || k=$(( (cut - p) / CCHUNK ))
		released_prefix "$what" $((k * CHUNK)) "$T/in"
	done
	# at a chunk boundary the last chunk left is a good one, but not
	# marked final: the message says the stream is incomplete
	for k in 1 2; do
		head -c $((p + k * CCHUNK)) "$T/good.age" > "$T/x.age"
		bad_dec "$T/x.age" "cut after chunk $k" "truncat|final|missing|incomplete"
	done
	# and in a file whose final chunk is short, cut before it
	mkdata_random "$T/in2" $((2 * CHUNK + 10))
	bk-crypt -r "$RB" < "$T/in2" > "$T/good2.age"
	head -c $((p + 2 * CCHUNK)) "$T/good2.age" > "$T/x.age"
	bad_dec "$T/x.age" "no final chunk" "truncat|final|missing|incomplete"
	released_prefix "no final chunk" $((2 * CHUNK)) "$T/in2"
	# an empty plaintext has one (empty) final chunk: without it, no file
	bk-crypt -r "$RB" < /dev/null > "$T/e.age"
	expect_eq "$(fsize "$T/e.age")" $((p + 16)) "size of an empty file's encryption"
	head -c "$p" "$T/e.age" > "$T/x.age"
	bad_dec "$T/x.age" "empty plaintext, no chunk"
	expect_empty "$T/bad.out"
}

@test "data after the final chunk: exit 1" {
	keys
	mkdata_random "$T/in" $((2 * CHUNK))
	bk-crypt -r "$RB" < "$T/in" > "$T/full.age"
	mkdata_random "$T/in2" 1000
	bk-crypt -r "$RB" < "$T/in2" > "$T/short.age"
	bk-crypt -r "$RB" < /dev/null > "$T/empty.age"
	for f in full short empty; do
		for extra in 1 16 17 100 $CCHUNK; do
			{ cat "$T/$f.age"; head -c "$extra" "$T/in"; } > "$T/x.age"
			what="$f.age + $extra bytes"
			age_refuses "$T/x.age" "$KB" "$what"
			if [ "$f" = full ]; then
				bad_dec "$T/x.age" "$what" "after|trailing|final"
			else
				bad_dec "$T/x.age" "$what"
			fi
		done
		cat "$T/$f.age" "$T/$f.age" > "$T/x.age"
		age_refuses "$T/x.age" "$KB" "$f.age twice"
		bad_dec "$T/x.age" "$f.age twice"
		{ cat "$T/$f.age"; echo; } > "$T/x.age"
		bad_dec "$T/x.age" "$f.age + a newline"
	done
}

# --- armor -----------------------------------------------------------------

@test "armor: -a writes PEM-style lines of 64 columns that age and bk-crypt read" {
	keys
	master
	for s in 0 1 47 48 49 65536 1048576; do
		cut_in "$s"
		must "$T/in" "$T/x.asc" "-a, $s bytes" bk-crypt -a -r "$RB"
		expect_eq "$(head -n 1 "$T/x.asc")" "-----BEGIN AGE ENCRYPTED FILE-----" "first line ($s bytes)"
		expect_eq "$(tail -n 1 "$T/x.asc")" "-----END AGE ENCRYPTED FILE-----" "last line ($s bytes)"
		expect_eq "$(tail -c 1 "$T/x.asc" | od -An -c | tr -d ' ')" '\n' "last byte ($s bytes)"
		sed '1d;$d' "$T/x.asc" > "$T/body"
		awk 'length($0) > 64 { print NR": "length($0); exit 1 }' "$T/body" ||
		    fail "$s bytes: a line longer than 64 columns"
		# every line but the last is full, only base64 in them
		awk -v n="$(wc -l < "$T/body")" 'NR < n && length($0) != 64 { exit 1 }' "$T/body" ||
		    fail "$s bytes: a short line before the last"
		! grep -q '[^A-Za-z0-9+/=]' "$T/body" || fail "$s bytes: not base64"
		! grep -q $'\r' "$T/x.asc" || fail "$s bytes: CR in the output"
		must "$T/x.asc" "$T/out" "-a, $s bytes, bk-crypt -d" bk-crypt -d -i "$KB"
		same "$T/out" "$T/in" "-a, $s bytes, bk-crypt -d"
		# the base64 is the binary file: same size as its binary twin
		base64 -d < "$T/body" > "$T/bin.age"
		must "$T/bin.age" "$T/out" "-a decoded by base64 -d" bk-crypt -d -i "$KB"
		same "$T/out" "$T/in" "-a decoded by base64 -d"
		if command -v age > /dev/null 2>&1; then
			must "$T/x.asc" "$T/out" "-a, $s bytes, age -d" age -d -i "$KB"
			same "$T/out" "$T/in" "-a, $s bytes, age -d"
		fi
	done
}

@test "armor with CRLF line endings decrypts" {
	keys
	master
	for s in 0 65537 1048576; do
		cut_in "$s"
		bk-crypt -a -r "$RB" < "$T/in" | sed 's/$/\r/' > "$T/crlf.asc"
		grep -q $'\r$' "$T/crlf.asc" || fail "sed did not add CRs"
		must "$T/crlf.asc" "$T/out" "CRLF armor, $s bytes" bk-crypt -d -i "$KB"
		same "$T/out" "$T/in" "CRLF armor, $s bytes"
		if command -v age > /dev/null 2>&1; then
			age -a -r "$RB" < "$T/in" | sed 's/$/\r/' > "$T/crlf.asc"
			must "$T/crlf.asc" "$T/out" "age -a, CRLF, $s bytes" bk-crypt -d -i "$KB"
			same "$T/out" "$T/in" "age -a, CRLF, $s bytes"
		fi
	done
}

@test "damaged armor: exit 1, one line" {
	keys
	mkdata_random "$T/in" 100000
	bk-crypt -a -r "$RB" < "$T/in" > "$T/good.asc"
	last=$(wc -l < "$T/good.asc")
	i=0
	while IFS='|' read -r what script; do
		i=$((i + 1))
		sed "$script" "$T/good.asc" > "$T/x.asc"
		cmp -s "$T/x.asc" "$T/good.asc" && fail "$what: nothing changed"
		age_refuses "$T/x.asc" "$KB" "armor, $what"
		bad_dec "$T/x.asc" "armor, $what"
		# nothing from a chunk that is not whole and checked
		released_prefix "armor, $what" "$CHUNK" "$T/in"
	done <<- EOF
	no END line|\$d
	a bad BEGIN line|1s/FILE/FILX/
	a bad END line|\$s/END AGE/END XGE/
	a bad character|3s/^./!/
	a changed character in the header|3{s/^A/B/;t;s/^./A/}
	a changed character in the payload|100{s/^A/B/;t;s/^./A/}
	a line of 65 columns|2s/^\(.\)/\1\1/
	a short line before the last|2s/^\(.\{32\}\)/\1\n/
	two lines joined|2{N;s/\n//}
	a line missing|50d
	the last data line missing|$((last - 1))d
	text after the END line|\$a junk
	text before the BEGIN line|1i junk
	EOF
	expect_eq "$i" 13 "cases run"
	head -c 1000 "$T/good.asc" > "$T/x.asc"
	bad_dec "$T/x.asc" "armor cut in the middle"
	expect_empty "$T/bad.out"
}

# --- keys ------------------------------------------------------------------

@test "--keygen -o: mode 0600 (whatever the umask), never overwrites, recipient on stderr" {
	umask 000
	io /dev/null "$T/out" bk-crypt --keygen -o "$T/key"
	expect_status 0
	expect_empty "$T/out" "stdout of --keygen -o"
	expect_eq "$(stat -c %a "$T/key")" 600 "mode of the new identity"
	expect_eq "$(printf '%s\n' "$err" | wc -l)" 1 "lines on stderr"
	case $err in
	"Public key: age1"*) ;;
	*) fail "stderr is not 'Public key: age1...': $err" ;;
	esac
	pk=${err#Public key: }
	expect_eq "$(grep -c '^AGE-SECRET-KEY-1[A-Z0-9]*$' "$T/key")" 1 "AGE-SECRET-KEY-1 lines"
	expect_eq "$(bk-crypt --to-recipient -i "$T/key")" "$pk" "--to-recipient -i"
	expect_eq "$(bk-crypt --to-recipient < "$T/key")" "$pk" "--to-recipient on stdin"
	if command -v age-keygen > /dev/null 2>&1; then
		expect_eq "$(age-keygen -y "$T/key")" "$pk" "age-keygen -y"
	fi
	# refuses to overwrite, and leaves the file as it was
	want=$(sha "$T/key")
	usage_error --keygen -o "$T/key"
	expect_eq "$(sha "$T/key")" "$want" "the identity after a second --keygen"
	# nor through a symbolic link, even a dangling one
	ln -s "$T/target" "$T/link"
	usage_error --keygen -o "$T/link"
	[ ! -e "$T/target" ] || fail "--keygen -o followed a symbolic link"
	# a directory that does not exist is a runtime error, and leaves nothing
	io /dev/null "$T/out" bk-crypt --keygen -o "$T/nodir/key"
	[ "$status" -ne 0 ] || fail "--keygen -o into a missing directory succeeded"
	[ ! -e "$T/nodir" ] || fail "--keygen created a directory"
	# each key is new
	bk-crypt --keygen -o "$T/key2" 2> /dev/null
	[ "$(bk-crypt --to-recipient -i "$T/key2")" != "$pk" ] || fail "two keygens gave the same key"
}

@test "--keygen without -o writes the identity on stdout; --to-recipient" {
	io /dev/null "$T/k" bk-crypt --keygen
	expect_status 0
	pk=${err#Public key: }
	expect_eq "$(bk-crypt --to-recipient < "$T/k")" "$pk" "--to-recipient of the stdout identity"
	grep -q "^# public key: $pk\$" "$T/k" || fail "no '# public key:' comment"
	# an identity made by age-keygen, on stdin and from a file
	if command -v age-keygen > /dev/null 2>&1; then
		age-keygen -o "$T/ak" 2> /dev/null
		want=$(age-keygen -y "$T/ak")
		expect_eq "$(bk-crypt --to-recipient < "$T/ak")" "$want" "--to-recipient < age-keygen file"
		expect_eq "$(bk-crypt --to-recipient -i "$T/ak")" "$want" "--to-recipient -i age-keygen file"
		# several identities: one recipient each, in order
		bk-crypt --keygen -o "$T/bk" 2> /dev/null
		cat "$T/ak" "$T/bk" > "$T/two"
		chmod 600 "$T/two"
		printf '%s\n%s\n' "$want" "$(bk-crypt --to-recipient -i "$T/bk")" > "$T/want"
		bk-crypt --to-recipient -i "$T/two" > "$T/got"
		same "$T/got" "$T/want" "--to-recipient of two identities"
	fi
	# not an identity
	echo "age1 is a recipient, not an identity" > "$T/junk"
	io "$T/junk" "$T/out" bk-crypt --to-recipient
	[ "$status" -ne 0 ] || fail "--to-recipient accepts junk"
	expect_empty "$T/out"
	expect_cmsg "$(head -n 1 "$T/stderr")"
}

# --- the pipeline seal ----------------------------------------------------

# start_chain, finish_chain, kill_when_streaming: as in seal.bats.
start_chain() {
	timeout 90 bash -c "$1" 3>&- &
	chain=$!
	track "$chain"
}

finish_chain() {
	status=0
	wait "$chain" || status=$?
	[ "$status" -ne 124 ] || fail "the pipeline hung (killed after 90 s)"
}

kill_when_streaming() {
	local pid
	wait_for 30 test -s "$T/$1.pid" || return 1
	pid=$(cat "$T/$1.pid")
	if [ -r "/proc/$pid/io" ]; then
		wait_for 30 proc_io_at_least "$pid" wchar 262144 || return 1
	else
		sleep 1
	fi
	kill -s "$2" "$pid" || fail "$1 (pid $pid) ended before it could be killed"
}

# undecryptable FILE WHAT: neither age -d nor bk-crypt -d accepts FILE.
undecryptable() {
	[ -s "$1" ] || fail "$2: no output at all" || return 1
	if command -v age > /dev/null 2>&1; then
		! age -d -i "$KB" < "$1" > /dev/null 2>&1 ||
		    fail "$2: age -d decrypts the output" || return 1
	fi
	io "$1" /dev/null bk-crypt -d -i "$KB"
	[ "$status" -eq 1 ] || fail "$2: bk-crypt -d exit $status, expected 1: $err"
}

@test "seal: a failed bk-gz -d upstream: bk-crypt exits 4, the file decrypts nowhere" {
	keys
	mkdata_text "$T/data" $((2 * MiB)) 3
	bk-gz < "$T/data" > "$T/good.gz"
	cp "$T/good.gz" "$T/crc.gz"
	flip "$T/crc.gz" $(($(fsize "$T/crc.gz") - 6))
	head -c $(($(fsize "$T/good.gz") / 2)) "$T/good.gz" > "$T/trunc.gz"
	for bad in crc trunc; do
		for a in "" -a; do
			{
				# shellcheck disable=SC2086
				bk-gz -d < "$T/$bad.gz" 2> /dev/null |
				    bk-crypt $a -r "$RB" > "$T/out.age" 2> "$T/e2"
				ps=("${PIPESTATUS[@]}")
			} || true
			expect_eq "${ps[*]}" "1 4" "bk-gz -d < $bad.gz | bk-crypt $a: exit statuses"
			err=$(cat "$T/e2")
			expect_cmsg "$err" "bk-crypt $a downstream of $bad.gz"
			expect_match "$err" upstream "the message"
			undecryptable "$T/out.age" "$bad.gz | bk-crypt $a"
		done
	done
	# the same with a good stream is fine (the test can tell)
	{
		bk-gz -d < "$T/good.gz" | bk-crypt -r "$RB" > "$T/out.age"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0" "bk-gz -d < good.gz | bk-crypt"
	must "$T/out.age" "$T/out" "good chain" bk-crypt -d -i "$KB"
	same "$T/out" "$T/data" "good chain"
}

@test "seal: kill -9 of the upstream bk-gz mid-stream: bk-crypt exits 4" {
	keys
	export RB
	start_chain '"$FIX/trickle" -n 1500 /dev/urandom |
	    "$FIX/savepid" "$T/up.pid" bk-gz -p 1 |
	    bk-crypt -r "$RB" > "$T/out.age" 2> "$T/err"'
	kill_when_streaming up KILL
	finish_chain
	err=$(cat "$T/err")
	expect_status 4
	expect_cmsg "$err" "bk-crypt"
	expect_match "$err" upstream "the message"
	undecryptable "$T/out.age" "killed bk-gz | bk-crypt"
}

@test "seal: kill -9 of an upstream bk-crypt mid-stream: bk-crypt -d exits 4" {
	keys
	export RB KB
	start_chain '"$FIX/trickle" -n 1500 /dev/urandom |
	    "$FIX/savepid" "$T/up.pid" bk-crypt -r "$RB" |
	    bk-crypt -d -i "$KB" 2> "$T/err" | bk-gz > "$T/out.gz" 2> "$T/err2"'
	kill_when_streaming up KILL
	finish_chain
	expect_status 4
	err=$(cat "$T/err")
	expect_cmsg "$err" "bk-crypt -d"
	expect_match "$err" upstream "the message"
	! gzip -t < "$T/out.gz" 2> /dev/null || fail "gzip -t accepts what followed"
}

@test "seal: a failed bk-crypt -d makes the next bk tool fail" {
	keys
	mkdata_random "$T/in" $((5 * CHUNK))
	bk-crypt -r "$RB" < "$T/in" > "$T/x.age"
	flip "$T/x.age" $(( $(fsize "$T/x.age") - 100 ))
	{
		bk-crypt -d -i "$KB" < "$T/x.age" 2> /dev/null | bk-gz > "$T/out.gz" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "1 4" "bk-crypt -d < bad | bk-gz"
	! gzip -t < "$T/out.gz" 2> /dev/null || fail "gzip -t accepts the output"
	{
		bk-crypt -d -i "$KB" < "$T/x.age" 2> /dev/null |
		    bk-crypt -r "$RB" > "$T/out.age" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "1 4" "bk-crypt -d < bad | bk-crypt"
	undecryptable "$T/out.age" "bk-crypt -d < bad | bk-crypt"
}

@test "seal: bk-crypt | bk-crypt -d and bk-crypt | bk-gz | bk-gz -d | bk-crypt -d succeed" {
	keys
	mkdata_text "$T/in" $((3 * MiB + 3)) 4
	# (keys left a record: $(bk-crypt --to-recipient) wrote into a pipe
	# that no bk tool reads)
	before=$(rundir_entries)
	for f in "$T/in" /dev/null; do
		{
			bk-crypt -r "$RB" < "$f" 2> "$T/e1" |
			    bk-crypt -d -i "$KB" > "$T/out" 2> "$T/e2"
			ps=("${PIPESTATUS[@]}")
		} || true
		expect_eq "${ps[*]}" "0 0" "bk-crypt | bk-crypt -d: exit statuses"
		same "$T/out" "$f" "bk-crypt | bk-crypt -d"
		expect_empty "$T/e1"
		expect_empty "$T/e2"
		{
			bk-crypt -a -r "$RB" < "$f" | bk-gz | bk-gz -d |
			    bk-crypt -d -i "$KB" > "$T/out" 2> "$T/e4"
			ps=("${PIPESTATUS[@]}")
		} || true
		expect_eq "${ps[*]}" "0 0 0 0" "bk-crypt | bk-gz | bk-gz -d | bk-crypt -d"
		same "$T/out" "$f" "bk-crypt | bk-gz | bk-gz -d | bk-crypt -d"
		expect_empty "$T/e4"
	done
	[ "$(rundir_entries)" = "$before" ] ||
	    fail "left in the run dir after sealed chains: $(rundir_entries)"
	# the journal of the last stage says the chain was sealed
	if [ -n "$PY" ]; then
		bk-crypt -r "$RB" < "$T/in" | BK_JOURNAL=$T/j bk-crypt -d -i "$KB" > /dev/null
		jcheck "$T/j" --lines 1 'tool="bk-crypt"' 'outcome="ok"' 'exit=0' \
		    'seal="ok"' "bytes_out@$T/in"
		bk-gz -d < /dev/null 2> /dev/null | BK_JOURNAL=$T/j2 bk-crypt -r "$RB" \
		    > /dev/null 2>&1 || true
		jcheck "$T/j2" --lines 1 'outcome="upstream-failed"' 'exit=4'
	fi
}

# --- usage -----------------------------------------------------------------

@test "usage errors exit 2: no recipient, nothing to decrypt with, operands, unknown options" {
	keys
	usage_error
	expect_match "$err" recipient "no recipient"
	usage_error -a
	usage_error -d
	expect_match "$err" 'identity|-i|passphrase' "-d alone"
	usage_error -r "$RB" "$T/file"
	usage_error -d -i "$KB" "$T/x.age"
	usage_error --bogus
	usage_error -x
	usage_error -r
	usage_error -r age1notarecipient
	# the checksum's last character changed (a key that ends in q
	# needs another letter, or nothing would change)
	if [ "${RB: -1}" = q ]; then
		usage_error -r "${RB%?}p"
	else
		usage_error -r "${RB%?}q"
	fi
	usage_error -r "$(grep AGE-SECRET "$KB")"
	usage_error -R "$T/missing"
	usage_error -d -i "$T/missing"
	usage_error -o "$T/k" -r "$RB"
	usage_error --keygen -d
	usage_error --to-recipient -d
	usage_error --keygen --to-recipient
	usage_error --work-factor 0 -r "$RB"
	usage_error --work-factor 31 -r "$RB"
	usage_error --work-factor x -r "$RB"
	usage_error -d -i "$KB" --max-work-factor 0
	usage_error -d -i "$KB" --max-work-factor 99
	usage_error --passphrase-fd x
	passfile "$T/pass" "$PASS"
	usage_error --passphrase-file "$T/pass" --passphrase-fd 0
	usage_error --passphrase-file "$T/pass" -r "$RB"
	usage_error --progress=sometimes -r "$RB"
	[ ! -e "$T/k" ] || fail "-o without --keygen wrote a file"
}

@test "-h prints the usage and exits 0; -V prints the version" {
	io /dev/null "$T/out" bk-crypt -h
	expect_status 0
	expect_empty "$T/stderr"
	head -n 1 "$T/out" | grep -q '^usage: bk-crypt \[-adhqvV\]' || fail "-h: $(head -n 1 "$T/out")"
	for o in --keygen --to-recipient --passphrase-file --passphrase-fd \
	    --work-factor --max-work-factor --armor --recipients-file; do
		grep -q -e "$o" "$T/out" || fail "-h does not mention $o"
	done
	io /dev/null "$T/out2" bk-crypt --help
	expect_status 0
	same "$T/out2" "$T/out" "--help"
	for v in -V --version; do
		io /dev/null "$T/out" bk-crypt $v
		expect_status 0
		expect_eq "$(cat "$T/out")" "bk-crypt (bk) 0.1.0" "bk-crypt $v"
	done
}

@test "binary output to a terminal is refused; -v says what it did" {
	keys
	skip_unless_py
	ptyrun x bk-crypt -r "$RB"
	expect_status 2
	expect_match "$err" 'terminal' "binary to a terminal"
	# -v: one summary line, and -q: nothing
	io /dev/null "$T/out" bk-crypt -v -r "$RB"
	expect_status 0
	expect_cmsg "$err" "-v"
	io /dev/null "$T/out" bk-crypt -q -r "$RB"
	expect_status 0
	expect_empty "$T/stderr"
}

# --- the scrypt work factor -----------------------------------------------

@test "a work factor above --max-work-factor is refused before scrypt runs" {
	passfile "$T/pass" "$PASS"
	echo data > "$T/in"
	bk-crypt --work-factor 10 --passphrase-file "$T/pass" < "$T/in" > "$T/w10.age"
	grep -a -q '^-> scrypt [A-Za-z0-9+/]* 10$' "$T/w10.age" || fail "no scrypt stanza at 10"
	must "$T/w10.age" "$T/out" "-d, work factor 10" bk-crypt -d --passphrase-file "$T/pass"
	must "$T/w10.age" "$T/out" "--max-work-factor 10" bk-crypt -d --max-work-factor 10 --passphrase-file "$T/pass"
	bad_dec "$T/w10.age" "work factor 10, --max-work-factor 9" "work factor" \
	    --max-work-factor 9 --passphrase-file "$T/pass"
	# A file at work factor 23: the stanza of the file above, made to say
	# 23 (an honest one takes 40 s and 8 GiB to write).  Refused at once
	# under the default cap of 22, whatever its MAC.
	sed '2s/^\(-> scrypt [A-Za-z0-9+/]*\) 10$/\1 23/' "$T/w10.age" > "$T/w23.age"
	grep -a -q '^-> scrypt [A-Za-z0-9+/]* 23$' "$T/w23.age" || fail "no scrypt stanza at 23"
	for wf in 23 30; do
		sed "2s/ 23\$/ $wf/" "$T/w23.age" > "$T/x.age"
		t0=${EPOCHREALTIME/./}
		bad_dec "$T/x.age" "work factor $wf, default cap" "work factor" \
		    --passphrase-file "$T/pass"
		t1=${EPOCHREALTIME/./}
		[ $((t1 - t0)) -lt 3000000 ] ||
		    fail "work factor $wf took $(( (t1 - t0) / 1000 )) ms to refuse: scrypt ran"
		expect_match "$err" "$wf" "the message names the work factor"
		expect_empty "$T/bad.out"
	done
	t0=${EPOCHREALTIME/./}
	BK_PASSPHRASE=$PASS bad_dec "$T/w23.age" "work factor 23, --max-work-factor 22" \
	    "work factor" --max-work-factor 22
	t1=${EPOCHREALTIME/./}
	[ $((t1 - t0)) -lt 3000000 ] || fail "--max-work-factor 22 let scrypt run at 23"
}
