# helper.bash - shared setup for the bats integration tests (load helper).
#
# Puts the freshly built bin/ first on PATH, gives every test a private
# temporary directory $T and a private seal run directory $BK_RUNDIR inside
# it, and provides data generators and small assertions that print what
# went wrong.  Tests run the real programs; nothing here fakes them.

BK_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
FIX=$BK_ROOT/t/fixtures
PATH=$BK_ROOT/bin:$PATH
export BK_ROOT FIX PATH

# A python3 for the zlib and JSON checks; /usr/bin first (a pyenv shim on
# PATH costs a tenth of a second per call).
PY=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n 1)

# shellcheck disable=SC2034 # used by the .bats files
KiB=1024
# shellcheck disable=SC2034
MiB=$((1024 * 1024))

# Per-test environment: fresh $T, private run dir, no journal unless the
# test sets one, C locale for stable messages.
bk_setup() {
	T=$(mktemp -d "${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}/bk.XXXXXX")
	export T
	export BK_RUNDIR=$T/run
	unset BK_JOURNAL XDG_RUNTIME_DIR
	export LC_ALL=C
	if [ ! -x "$BK_ROOT/bin/bk-gz" ]; then
		echo "bin/bk-gz is not built: run make" >&2
		return 1
	fi
}

# Kill what a test left running (pids listed in $T/pids), drop $T.
bk_teardown() {
	local p
	if [ -n "${T:-}" ] && [ -f "$T/pids" ]; then
		while read -r p; do
			kill -9 "$p" 2>/dev/null || true
		done < "$T/pids"
	fi
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		rm -rf "$T"
	fi
}

setup() {
	bk_setup
}

teardown() {
	bk_teardown
}

# skip_unless CMD: skip the test when an optional tool is missing.
skip_unless() {
	command -v "$1" >/dev/null 2>&1 || skip "$1 not installed"
}

# skip_unless_py: skip when python3 is missing.
skip_unless_py() {
	[ -n "$PY" ] || skip "python3 not installed"
}

# fail MESSAGE: print why and fail the test.
fail() {
	echo "FAIL: $*" >&2
	return 1
}

# --- data ------------------------------------------------------------------

# mkdata_random FILE SIZE: SIZE bytes from /dev/urandom.
mkdata_random() {
	head -c "$2" /dev/urandom > "$1"
}

# mkdata_text FILE SIZE [SEED]: SIZE bytes of varied, compressible text
# (reproducible for a seed; ~300 MiB/s).
mkdata_text() {
	awk -v size="$2" -v seed="${3:-1}" -f "$FIX/mkdata-text.awk" > "$1"
}

# mkdata_zero FILE SIZE: SIZE zero bytes.
mkdata_zero() {
	head -c "$2" /dev/zero > "$1"
}

# sha FILE (or sha < stream): the SHA-256 in hex.
sha() {
	if [ $# -gt 0 ]; then
		sha256sum < "$1" | cut -d ' ' -f 1
	else
		sha256sum | cut -d ' ' -f 1
	fi
}

# fsize FILE: size in bytes.
fsize() {
	stat -c %s "$1"
}

# flip FILE OFFSET [MASK]: XOR the byte at OFFSET with MASK (default 0xff).
flip() {
	local f=$1 off=$2 mask=${3:-255} b
	b=$(od -An -tu1 -j "$off" -N 1 "$f" | tr -d ' ')
	[ -n "$b" ] || fail "flip: offset $off beyond the end of $f" || return 1
	b=$(( b ^ mask ))
	# shellcheck disable=SC2059
	printf "\\$(printf %03o "$b")" |
	    dd of="$f" bs=1 seek="$off" count=1 conv=notrunc status=none
}

# --- running -------------------------------------------------------------

# io IN OUT CMD [ARG...]: run CMD <IN >OUT 2>$T/stderr; sets $status and
# $err (the stderr text).  Never fails by itself.
io() {
	local in=$1 out=$2
	shift 2
	status=0
	"$@" < "$in" > "$out" 2> "$T/stderr" || status=$?
	err=$(cat "$T/stderr")
}

# expect_status N: $status must be N.
expect_status() {
	[ "$status" -eq "$1" ] ||
	    fail "exit status $status, expected $1${err:+; stderr: $err}"
}

# expect_eq GOT WANT WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# expect_same FILE1 FILE2: byte-identical.
expect_same() {
	cmp -s "$1" "$2" ||
	    fail "$1 ($(fsize "$1") bytes) differs from $2 ($(fsize "$2") bytes)"
}

# expect_empty FILE [WHAT]
expect_empty() {
	[ ! -s "$1" ] || fail "${2:-$1} is not empty: $(head -c 300 "$1" | cat -v)"
}

# expect_msg TEXT [WHAT]: TEXT is exactly one line starting with "bk-gz: ".
expect_msg() {
	local n
	n=$(printf '%s\n' "$1" | wc -l)
	[ -n "$1" ] || fail "${2:-stderr}: no message, expected one 'bk-gz: ...' line" || return 1
	[ "$n" -eq 1 ] || fail "${2:-stderr}: $n lines, expected one: $1" || return 1
	case $1 in
	"bk-gz: "?*) ;;
	*) fail "${2:-stderr}: '$1' does not start with 'bk-gz: '" ;;
	esac
}

# expect_lines_bk TEXT [WHAT]: at least one line, every one "bk-gz: ...".
expect_lines_bk() {
	[ -n "$1" ] || fail "${2:-stderr}: nothing, expected a 'bk-gz: ...' warning" || return 1
	if printf '%s\n' "$1" | grep -qv '^bk-gz: .'; then
		fail "${2:-stderr}: a line does not start with 'bk-gz: ': $1"
	fi
}

# rss_max KIB: KIB, or three times it under ASan and UBSan (make
# SANITIZE=1 check), whose shadow memory and quarantine add to every
# process.
rss_max() {
	if [ "${BK_SANITIZE:-}" = 1 ]; then
		echo $(( $1 * 3 ))
	else
		echo "$1"
	fi
}

# wait_for SECONDS CMD [ARG...]: poll CMD every 50 ms until it succeeds;
# fail after SECONDS.
wait_for() {
	local limit=$(( $1 * 20 )) i=0
	shift
	until "$@"; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || fail "timed out waiting for: $*" || return 1
		sleep 0.05
	done
}

# proc_io_at_least PID FIELD MIN: /proc/PID/io FIELD (rchar, wchar) >= MIN.
proc_io_at_least() {
	local v
	v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/io" 2>/dev/null)
	[ -n "$v" ] && [ "$v" -ge "$3" ]
}

# track PID: have teardown kill PID if the test leaves it running.
track() {
	echo "$1" >> "$T/pids"
}

# rundir_entries: the entries under $BK_RUNDIR (none if it does not exist).
rundir_entries() {
	[ -d "$BK_RUNDIR" ] || return 0
	find "$BK_RUNDIR" -mindepth 1
}

# rundir_has_record: something is registered under $BK_RUNDIR.
rundir_has_record() {
	[ -n "$(rundir_entries)" ]
}

# jcheck FILE ARGS...: check journal lines (see fixtures/jcheck.py).
jcheck() {
	"$PY" "$FIX/jcheck.py" "$@"
}

# --- throwaway servers for a whole file (setup_file / teardown_file) --------

# servers_start NAME BUCKET: a directory $W under /tmp that the database
# server's user can reach, with a throwaway S3 server (bucket BUCKET made)
# and PostgreSQL server in it; their settings exported, and PGOWNER, the
# server's user.
servers_start() {
	local env
	W=$(mktemp -d "/tmp/bk-$1-t.XXXXXX") || return 1
	chmod 755 "$W"
	export W
	"$BK_ROOT/t/s3server.sh" start "$W/s3" || return 1
	"$BK_ROOT/t/s3server.sh" mb "$W/s3" "$2" || return 1
	# shellcheck disable=SC1091
	. "$W/s3/env"
	env=$("$BK_ROOT/t/pgserver.sh" start "$W/srv") || return 1
	# shellcheck disable=SC1090
	. "$env"
	export PGHOST PGPORT PGUSER PGDATABASE BK_PG_BINDIR BK_PG_DATA BK_PG_LOG
	export PGCONNECT_TIMEOUT=10
	PGOWNER=$(stat -c %U "$BK_PG_DATA")
	export PGOWNER
}

# servers_stop: stop both servers and remove $W.
servers_stop() {
	[ -n "${W:-}" ] || return 0
	"$BK_ROOT/t/pgserver.sh" stop "$W/srv" || true
	"$BK_ROOT/t/s3server.sh" stop "$W/s3" || true
	rm -rf "$W"
}
