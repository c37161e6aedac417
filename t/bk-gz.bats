#!/usr/bin/env bats
# bk-gz: round trips, interoperability with gzip, pigz and zlib, corrupt
# input, usage, terminals, write errors and messages.

load helper

# Sizes around the block boundaries of the default block (1M) and of
# -b 256K.
SIZES="0 1 2 100 32767 32768 32769 65536 262143 262144 262145 524287 524288
    524289 786433 1048575 1048576 1048577"

# masters: text and random data of 3 MiB + 1 to cut inputs from.
masters() {
	mkdata_text "$T/m.text" $((3 * MiB + 1)) 7
	mkdata_random "$T/m.random" $((3 * MiB + 1))
}

# cut KIND SIZE: $T/in = the first SIZE bytes of the KIND master.
cut_in() {
	head -c "$2" "$T/m.$1" > "$T/in"
}

# roundtrip FILE [OPTS...]: bk-gz OPTS < FILE | bk-gz -d gives FILE back,
# both exit 0 and print nothing.
roundtrip() {
	local f=$1
	shift
	{
		bk-gz "$@" < "$f" 2> "$T/e1" | bk-gz -d > "$T/rt" 2> "$T/e2"
		ps=("${PIPESTATUS[@]}")
	} || true
	if [ "${ps[0]}" != 0 ] || [ "${ps[1]}" != 0 ]; then
		fail "bk-gz $* < ($(fsize "$f") bytes) | bk-gz -d: exit ${ps[*]}: $(cat "$T/e1" "$T/e2")"
		return 1
	fi
	expect_empty "$T/e1" "stderr of bk-gz $*" || return 1
	expect_empty "$T/e2" "stderr of bk-gz -d" || return 1
	cmp -s "$f" "$T/rt" ||
	    fail "bk-gz $* | bk-gz -d: output differs for an input of $(fsize "$f") bytes"
}

# sha_of IN CMD [ARG...]: run CMD < IN | sha256sum; sets $got, $status, $err
# (and $T/rss: the max RSS in KiB, where /usr/bin/time exists).
sha_of() {
	local in=$1
	shift
	local timer=()
	rm -f "$T/rss"
	[ ! -x /usr/bin/time ] || timer=(/usr/bin/time -o "$T/rss" -f %M)
	{
		"${timer[@]}" "$@" < "$in" 2> "$T/stderr" | sha256sum > "$T/sha"
		ps=("${PIPESTATUS[@]}")
	} || true
	status=${ps[0]}
	got=$(cut -d ' ' -f 1 "$T/sha")
	err=$(cat "$T/stderr")
}

# reads_back GZ WANT_SHA WHAT CMD...: CMD < GZ exits 0 with data WANT_SHA.
reads_back() {
	local gz=$1 want=$2 what=$3
	shift 3
	sha_of "$gz" "$@"
	[ "$status" -eq 0 ] || fail "$what: $* exit $status: $err" || return 1
	[ "$got" = "$want" ] || fail "$what: $* gives different data"
}

# bad_input FILE WHAT [REGEX [OFFSET]]: bk-gz -d and bk-gz -t on FILE exit
# 1 with one "bk-gz: ..." line (matching REGEX, case-insensitive, if given,
# and naming the input offset OFFSET, if given); -t writes nothing on stdout.
bad_input() {
	local f=$1 what=$2 re=${3:-} off=${4:-}
	io "$f" "$T/d.out" bk-gz -d
	[ "$status" -eq 1 ] ||
	    fail "$what: bk-gz -d exit $status, expected 1; stderr: $err" || return 1
	expect_msg "$err" "$what: bk-gz -d stderr" || return 1
	if [ -n "$re" ]; then
		printf '%s\n' "$err" | grep -Eqi "$re" ||
		    fail "$what: bk-gz -d message '$err' does not match /$re/" || return 1
	fi
	if [ -n "$off" ]; then
		printf '%s\n' "$err" | grep -Eq "(^|[^0-9])$off([^0-9]|\$)" ||
		    fail "$what: bk-gz -d message '$err' does not name offset $off" || return 1
	fi
	io "$f" "$T/t.out" bk-gz -t
	[ "$status" -eq 1 ] ||
	    fail "$what: bk-gz -t exit $status, expected 1; stderr: $err" || return 1
	expect_msg "$err" "$what: bk-gz -t stderr" || return 1
	expect_empty "$T/t.out" "$what: stdout of bk-gz -t"
}

# usage_error ARGS...: bk-gz ARGS exits 2, writes nothing on stdout and a
# message on stderr.
usage_error() {
	io /dev/null "$T/u.out" bk-gz "$@"
	[ "$status" -eq 2 ] ||
	    fail "bk-gz $*: exit $status, expected 2; stderr: $err" || return 1
	expect_empty "$T/u.out" "stdout of bk-gz $*" || return 1
	[ -n "$err" ] || fail "bk-gz $*: no message on stderr" || return 1
	if printf '%s\n' "$err" | grep -v '^usage: ' | grep -qv '^bk-gz: .'; then
		fail "bk-gz $*: stray stderr lines: $err"
	fi
}

@test "round trip at levels 1, 6 and 9 over block and 1 MiB boundary sizes" {
	masters
	for lvl in 1 6 9; do
		for kind in text random; do
			for s in $SIZES; do
				cut_in $kind "$s"
				roundtrip "$T/in" -$lvl
				roundtrip "$T/in" -$lvl -b 256K
			done
		done
	done
}

@test "round trip with -p 1, -p 2 and -p 4 up to 3 MiB" {
	masters
	for p in 1 2 4; do
		for kind in text random; do
			for s in $SIZES 2097151 2097152 2097153 $((3 * MiB + 1)); do
				cut_in $kind "$s"
				roundtrip "$T/in" -p "$p"
			done
		done
	done
}

@test "round trip with -b 32K and -b 1M at their block boundaries" {
	masters
	for kind in text random; do
		for s in 0 1 32767 32768 32769 65535 65536 65537 98303 98304 \
		    98305 1048575 1048576 1048577; do
			cut_in $kind "$s"
			roundtrip "$T/in" -b 32K
			roundtrip "$T/in" -b 32K -p 4
		done
		for s in 0 1 1048575 1048576 1048577 2097151 2097152 2097153 \
		    $((3 * MiB + 1)); do
			cut_in $kind "$s"
			roundtrip "$T/in" -b 1M
			roundtrip "$T/in" -b 1M -p 2
		done
	done
}

@test "round trip with odd block sizes (-b 33333, -b 1.5M, -b 100000)" {
	masters
	for kind in text random; do
		for s in 0 1 33332 33333 33334 66666 99999 100000 100001 1048576 \
		    1572863 1572864 1572865 $((3 * MiB + 1)); do
			cut_in $kind "$s"
			roundtrip "$T/in" -b 33333 -p 3
			roundtrip "$T/in" -b 1.5M -p 2
			roundtrip "$T/in" -b 100000 -9
		done
	done
}

@test "input that arrives in small pieces (short reads) compresses and decompresses" {
	mkdata_text "$T/in" 300007 47
	{
		"$FIX/trickle" -s 1000 -d 0 "$T/in" | bk-gz -p 2 -b 32K > "$T/in.gz"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0" "trickle | bk-gz: exit statuses"
	gzip -dc < "$T/in.gz" | cmp -s - "$T/in" || fail "gzip -dc gives different data"
	{
		"$FIX/trickle" -s 997 -d 0 "$T/in.gz" | bk-gz -d > "$T/out"
		ps=("${PIPESTATUS[@]}")
	} || true
	expect_eq "${ps[*]}" "0 0" "trickle | bk-gz -d: exit statuses"
	expect_same "$T/out" "$T/in"
}

@test "round trip of long runs and mixed data across blocks" {
	# zeros and a repeated pattern give matches that reach across blocks
	mkdata_zero "$T/zero" $((5 * MiB + 3))
	roundtrip "$T/zero" -9 -b 32K -p 4
	roundtrip "$T/zero" -1
	yes 'abcdefghij0123456789' | head -c $((4 * MiB + 11)) > "$T/pattern"
	roundtrip "$T/pattern" -9 -b 32K -p 3
	roundtrip "$T/pattern" -6 -p 256
	mkdata_text "$T/t" $((2 * MiB)) 3
	mkdata_random "$T/r" $((1 * MiB + 5))
	cat "$T/t" "$T/zero" "$T/r" "$T/t" > "$T/mixed"
	roundtrip "$T/mixed"
	roundtrip "$T/mixed" -9 -b 32K -p 4
	roundtrip "$T/mixed" -1 -b 64M -p 2
}

@test "long options and gzip habits: --fast --best --threads --block-size -c --stdout" {
	mkdata_text "$T/in" $((600 * KiB + 3)) 5
	roundtrip "$T/in" --fast
	roundtrip "$T/in" --best
	roundtrip "$T/in" --threads 2 --block-size 64K
	roundtrip "$T/in" --threads=3 --block-size=128K
	roundtrip "$T/in" -c
	roundtrip "$T/in" --stdout -5
	bk-gz < "$T/in" > "$T/in.gz"
	io "$T/in.gz" "$T/out" bk-gz --decompress --stdout
	expect_status 0
	expect_same "$T/out" "$T/in"
	io "$T/in.gz" "$T/out" bk-gz -dc
	expect_status 0
	expect_same "$T/out" "$T/in"
	io "$T/in.gz" "$T/out" bk-gz --test
	expect_status 0
	expect_empty "$T/out"
}

@test "gzip, pigz and zlib read what bk-gz writes" {
	skip_unless pigz
	skip_unless_py
	masters
	for kind in text random; do
		for s in 0 1 1048575 1048576 1048577; do
			cut_in $kind "$s"
			want=$(sha "$T/in")
			for opts in "" "-9 -b 32K -p 2" "-1 -p 1"; do
				what="$kind $s bytes, bk-gz $opts"
				# shellcheck disable=SC2086
				bk-gz $opts < "$T/in" > "$T/in.gz"
				reads_back "$T/in.gz" "$want" "$what" gzip -dc
				reads_back "$T/in.gz" "$want" "$what" pigz -dc
				reads_back "$T/in.gz" "$want" "$what" "$PY" "$FIX/zread.py"
				gzip -t < "$T/in.gz" || fail "$what: gzip -t refuses it"
				pigz -t < "$T/in.gz" || fail "$what: pigz -t refuses it"
			done
		done
	done
}

@test "bk-gz -d reads what gzip writes: -1, -6, -9, file name in the header" {
	masters
	for kind in text random; do
		for s in 0 1 1048575 1048576 1048577; do
			cut_in $kind "$s"
			want=$(sha "$T/in")
			for lvl in 1 6 9; do
				gzip -$lvl -c < "$T/in" > "$T/in.gz"
				reads_back "$T/in.gz" "$want" "gzip -$lvl, $kind $s" bk-gz -d
				reads_back "$T/in.gz" "$(sha /dev/null)" "gzip -$lvl, $kind $s" bk-gz -t
			done
			# a name (and mtime) in the header: gzip -N file, gzip file
			cp "$T/in" "$T/data.bin"
			gzip -c -N "$T/data.bin" > "$T/named.gz"
			reads_back "$T/named.gz" "$want" "gzip -c -N file, $kind $s" bk-gz -d
			rm -f "$T/data.bin.gz"
			gzip "$T/data.bin"
			reads_back "$T/data.bin.gz" "$want" "gzip file, $kind $s" bk-gz -d
			rm -f "$T/data.bin.gz"
		done
	done
}

@test "bk-gz -d reads what pigz writes: -p 1, -p 2, -1, -9, name, comment" {
	skip_unless pigz
	masters
	for kind in text random; do
		for s in 0 1 1048575 1048576 1048577 $((3 * MiB + 1)); do
			cut_in $kind "$s"
			want=$(sha "$T/in")
			for opts in "" "-p 1" "-p 2" "-1 -p 2" "-9 -p 2 -b 32" \
			    "-C a-comment"; do
				# shellcheck disable=SC2086
				pigz $opts -c < "$T/in" > "$T/in.gz"
				reads_back "$T/in.gz" "$want" "pigz $opts, $kind $s" bk-gz -d
				reads_back "$T/in.gz" "$(sha /dev/null)" "pigz $opts, $kind $s" bk-gz -t
			done
			cp "$T/in" "$T/data.bin"
			rm -f "$T/data.bin.gz"
			pigz -k -N "$T/data.bin"
			reads_back "$T/data.bin.gz" "$want" "pigz -N file, $kind $s" bk-gz -d
			rm -f "$T/data.bin.gz" "$T/data.bin"
		done
	done
}

@test "bk-gz -d reads concatenated members (cat a.gz b.gz ...)" {
	skip_unless pigz
	mkdata_text "$T/a" $((1 * MiB + 1)) 11
	mkdata_random "$T/b" 1048575
	printf 'x' > "$T/c"
	: > "$T/e"
	gzip -c < "$T/a" > "$T/a.gz"
	pigz -p 2 -c < "$T/b" > "$T/b.gz"
	bk-gz < "$T/c" > "$T/c.gz"
	gzip -c < "$T/e" > "$T/e.gz"
	bk-gz < "$T/e" > "$T/e2.gz"

	cat "$T/a.gz" "$T/b.gz" > "$T/ab.gz"
	cat "$T/a" "$T/b" > "$T/ab"
	reads_back "$T/ab.gz" "$(sha "$T/ab")" "gzip + pigz members" bk-gz -d
	reads_back "$T/ab.gz" "$(sha /dev/null)" "gzip + pigz members" bk-gz -t

	cat "$T/e.gz" "$T/a.gz" "$T/c.gz" "$T/e2.gz" "$T/b.gz" "$T/c.gz" > "$T/mix.gz"
	cat "$T/a" "$T/c" "$T/b" "$T/c" > "$T/mix"
	reads_back "$T/mix.gz" "$(sha "$T/mix")" "empty, gzip, bk-gz, pigz members" bk-gz -d

	cat "$T/e.gz" "$T/e2.gz" > "$T/ee.gz"
	reads_back "$T/ee.gz" "$(sha /dev/null)" "two empty members" bk-gz -d
	reads_back "$T/ee.gz" "$(sha /dev/null)" "two empty members" bk-gz -t

	for i in 1 2 3 4 5 6 7 8 9 10; do cat "$T/c.gz"; done > "$T/many.gz"
	reads_back "$T/many.gz" "$(printf xxxxxxxxxx | sha)" "ten 1-byte members" bk-gz -d

	# bk-gz's own output concatenated
	bk-gz -p 2 < "$T/a" > "$T/a2.gz"
	bk-gz -1 < "$T/b" > "$T/b2.gz"
	cat "$T/a2.gz" "$T/b2.gz" > "$T/ab2.gz"
	reads_back "$T/ab2.gz" "$(sha "$T/ab")" "two bk-gz members" bk-gz -d
}

@test "bk-gz -d reads headers with FEXTRA, FNAME, FCOMMENT and FHCRC" {
	skip_unless_py
	mkdata_text "$T/in" 300000 13
	want=$(sha "$T/in")
	long=$(head -c 50000 /dev/zero | tr '\0' n)
	for opts in "--extra xyz" "--name data.sql" "--comment hello" "--hcrc" \
	    "--extra 0123456789 --name n --comment c --hcrc" "--name '' --comment ''" \
	    "--name $long --comment $long --hcrc"; do
		eval "\"\$PY\" \"\$FIX/gzmember.py\" $opts" < "$T/in" > "$T/h.gz"
		gzip -t < "$T/h.gz" || fail "fixture ($opts) is not valid for gzip"
		reads_back "$T/h.gz" "$want" "header $opts" bk-gz -d
		reads_back "$T/h.gz" "$(sha /dev/null)" "header $opts" bk-gz -t
	done
}

@test "large: 256 MiB of random data, both ways with gzip, pigz and zlib" {
	skip_unless pigz
	skip_unless_py
	large_interop random
}

@test "large: 256 MiB of compressible text, both ways with gzip, pigz and zlib" {
	skip_unless pigz
	skip_unless_py
	large_interop text
}

# large_interop KIND: 256 MiB of KIND data through bk-gz and back through
# every reader, then pigz's and gzip's output through bk-gz -d; memory stays
# bounded (max RSS well under the input size).  Data is compared by
# streaming SHA-256; big files are removed as soon as they are done with.
large_interop() {
	local n=$((256 * MiB)) want rss
	mkdata_$1 "$T/src" $n
	want=$(sha "$T/src")

	status=0
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$T/rss" bk-gz < "$T/src" > "$T/a.gz" 2> "$T/stderr" ||
		    status=$?
	else
		bk-gz < "$T/src" > "$T/a.gz" 2> "$T/stderr" || status=$?
	fi
	err=$(cat "$T/stderr")
	expect_status 0
	if [ -s "$T/rss" ]; then
		rss=$(tail -n 1 "$T/rss")
		[ "$rss" -lt "$(rss_max $((100 * 1024)))" ] ||
		    fail "bk-gz used ${rss} KiB of memory on a 256 MiB stream"
	fi
	reads_back "$T/a.gz" "$want" "large $1" gzip -dc
	reads_back "$T/a.gz" "$want" "large $1" pigz -dc
	reads_back "$T/a.gz" "$want" "large $1" "$PY" "$FIX/zread.py"
	reads_back "$T/a.gz" "$want" "large $1" bk-gz -d
	gzip -t < "$T/a.gz" || fail "gzip -t refuses bk-gz's large $1 output"
	io "$T/a.gz" "$T/t.out" bk-gz -t
	expect_status 0
	expect_empty "$T/t.out"
	rm -f "$T/a.gz"

	# pigz (-p 2; -1 on text, where it is slow) and gzip (-1, its fastest)
	if [ "$1" = text ]; then
		pigz -1 -p 2 -c < "$T/src" > "$T/b.gz"
	else
		pigz -p 2 -c < "$T/src" > "$T/b.gz"
	fi
	reads_back "$T/b.gz" "$want" "pigz -p 2, large $1" bk-gz -d
	if [ -s "$T/rss" ]; then
		rss=$(tail -n 1 "$T/rss")
		[ "$rss" -lt "$(rss_max $((100 * 1024)))" ] ||
		    fail "bk-gz -d used ${rss} KiB of memory on a 256 MiB stream"
	fi
	rm -f "$T/b.gz"

	if [ "$1" = text ]; then
		gzip -1 -c < "$T/src" > "$T/c.gz"
		reads_back "$T/c.gz" "$want" "gzip -1, large $1" bk-gz -d
	else
		# gzip is slow on random data: its output for the first 64 MiB
		head -c $((64 * MiB)) "$T/src" | gzip -1 -c > "$T/c.gz"
		reads_back "$T/c.gz" "$(head -c $((64 * MiB)) "$T/src" | sha)" \
		    "gzip -1, first 64 MiB of large $1" bk-gz -d
	fi
	rm -f "$T/c.gz" "$T/src"
}

@test "-t on good streams exits 0 and prints nothing" {
	skip_unless pigz
	mkdata_text "$T/in" $((2 * MiB + 17)) 17
	: > "$T/empty"
	for src in "$T/in" "$T/empty"; do
		bk-gz < "$src" > "$T/1.gz"
		gzip -c < "$src" > "$T/2.gz"
		pigz -c < "$src" > "$T/3.gz"
		cat "$T/1.gz" "$T/2.gz" "$T/3.gz" > "$T/4.gz"
		for gz in 1 2 3 4; do
			io "$T/$gz.gz" "$T/out" bk-gz -t
			expect_status 0
			expect_empty "$T/out" "stdout of bk-gz -t"
			expect_empty "$T/stderr" "stderr of bk-gz -t"
		done
	done
}

@test "corrupt: a flipped byte in the deflate data is refused (-d and -t)" {
	mkdata_random "$T/r" $((1 * MiB))
	bk-gz -p 2 < "$T/r" > "$T/r.gz"
	mkdata_text "$T/t" $((1 * MiB)) 19
	bk-gz -p 2 < "$T/t" > "$T/t.gz"
	gzip -9 -c < "$T/t" > "$T/g.gz"
	for gz in r t g; do
		size=$(fsize "$T/$gz.gz")
		# the header is 10 bytes (no name from stdin); the trailer 8
		for off in 10 11 12 100 4096 $((size / 3)) $((size / 2)) \
		    $((size - 100)) $((size - 10)) $((size - 9)); do
			for mask in 255 1; do
				cp "$T/$gz.gz" "$T/bad.gz"
				flip "$T/bad.gz" "$off" "$mask"
				bad_input "$T/bad.gz" "$gz.gz, byte $off ^ $mask"
			done
		done
	done
}

@test "corrupt: a wrong CRC-32 or ISIZE is refused (-d and -t)" {
	mkdata_text "$T/t" $((700 * KiB)) 23
	bk-gz < "$T/t" > "$T/t.gz"
	size=$(fsize "$T/t.gz")
	for off in $((size - 8)) $((size - 7)) $((size - 5)); do
		cp "$T/t.gz" "$T/bad.gz"
		flip "$T/bad.gz" "$off" 1
		bad_input "$T/bad.gz" "CRC byte $off" 'crc|check'
	done
	for off in $((size - 4)) $((size - 3)) $((size - 1)); do
		cp "$T/t.gz" "$T/bad.gz"
		flip "$T/bad.gz" "$off" 1
		bad_input "$T/bad.gz" "ISIZE byte $off" 'length|size'
	done
	# the same in the second of two members
	gzip -c < "$T/t" > "$T/g.gz"
	cat "$T/t.gz" "$T/g.gz" > "$T/two.gz"
	size=$(fsize "$T/two.gz")
	cp "$T/two.gz" "$T/bad.gz"
	flip "$T/bad.gz" $((size - 6))
	bad_input "$T/bad.gz" "CRC of the second member" 'crc|check'
	cp "$T/two.gz" "$T/bad.gz"
	flip "$T/bad.gz" $((size - 2))
	bad_input "$T/bad.gz" "ISIZE of the second member" 'length|size'
	# and in the first
	cp "$T/two.gz" "$T/bad.gz"
	flip "$T/bad.gz" $(($(fsize "$T/t.gz") - 6))
	bad_input "$T/bad.gz" "CRC of the first of two members" 'crc|check'
}

@test "corrupt: truncated streams are refused (-d and -t)" {
	mkdata_text "$T/t" $((1 * MiB + 5)) 29
	bk-gz < "$T/t" > "$T/t.gz"
	size=$(fsize "$T/t.gz")
	for n in 1 2 3 9 10 11 100 $((size / 2)) $((size - 9)) $((size - 8)) \
	    $((size - 5)) $((size - 4)) $((size - 1)); do
		head -c "$n" "$T/t.gz" > "$T/bad.gz"
		re='truncat|unexpected|end of|premature|incomplete|short|eof'
		off=$n
		# fewer than 10 bytes may just as well be "not gzip"
		[ "$n" -ge 10 ] || { re=; off=; }
		# the message names where the input ended
		bad_input "$T/bad.gz" "truncated to $n of $size bytes" "$re" "$off"
	done
	# a complete member followed by part of a second one
	gzip -c < "$T/t" > "$T/g.gz"
	for n in 1 2 5 10 1000; do
		{ cat "$T/t.gz"; head -c "$n" "$T/g.gz"; } > "$T/bad.gz"
		bad_input "$T/bad.gz" "a member and $n bytes of another"
	done
	# an empty gzip stream truncated
	bk-gz < /dev/null > "$T/e.gz"
	head -c $(($(fsize "$T/e.gz") - 1)) "$T/e.gz" > "$T/bad.gz"
	bad_input "$T/bad.gz" "empty member missing its last byte"
}

@test "corrupt: garbage and data that is not gzip are refused (-d and -t)" {
	printf 'hello, world\n' > "$T/bad"
	bad_input "$T/bad" "plain text"
	{ printf 'G'; head -c 4095 /dev/urandom; } > "$T/bad"
	bad_input "$T/bad" "random garbage"
	printf '\037' > "$T/bad"
	bad_input "$T/bad" "a lone 0x1f"
	printf '\037\213' > "$T/bad"
	bad_input "$T/bad" "only the magic"
	head -c 100000 /dev/zero > "$T/bad"
	bad_input "$T/bad" "zeros"
	if command -v pigz > /dev/null; then
		printf 'zlib, not gzip\n' | pigz -z > "$T/bad"
		bad_input "$T/bad" "a zlib stream"
	fi
	if [ -n "$PY" ]; then
		printf 'data\n' | "$PY" "$FIX/gzmember.py" --method 7 > "$T/bad"
		bad_input "$T/bad" "compression method 7"
		printf 'data\n' | "$PY" "$FIX/gzmember.py" --flags 0xe0 > "$T/bad"
		bad_input "$T/bad" "reserved header flags set"
		printf 'data\n' | "$PY" "$FIX/gzmember.py" --name x --bad-hcrc > "$T/bad"
		bad_input "$T/bad" "wrong header CRC (FHCRC)"
	fi
}

@test "corrupt: trailing garbage after the last member is refused (-d and -t)" {
	mkdata_text "$T/t" 200000 31
	bk-gz < "$T/t" > "$T/t.gz"
	gzip -c < "$T/t" > "$T/g.gz"
	# the message names where the garbage starts
	{ cat "$T/t.gz"; printf 'garbage\n'; } > "$T/bad.gz"
	bad_input "$T/bad.gz" "text after one member" 'trailing|garbage|after|junk|extra' \
	    "$(fsize "$T/t.gz")"
	{ cat "$T/t.gz"; printf '\0'; } > "$T/bad.gz"
	bad_input "$T/bad.gz" "a zero byte after one member"
	{ cat "$T/t.gz"; head -c 1000 /dev/zero; } > "$T/bad.gz"
	bad_input "$T/bad.gz" "zeros after one member"
	{ cat "$T/t.gz" "$T/g.gz" "$T/t.gz"; printf 'x'; } > "$T/bad.gz"
	bad_input "$T/bad.gz" "a byte after three members" 'trailing|garbage|after|junk|extra' \
	    $(($(fsize "$T/bad.gz") - 1))
	{ cat "$T/g.gz" "$T/t.gz"; head -c 3000 /dev/urandom; } > "$T/bad.gz"
	bad_input "$T/bad.gz" "random bytes after two members"
}

@test "corrupt: empty input is refused (-d and -t)" {
	: > "$T/empty"
	bad_input "$T/empty" "empty input"
}

@test "usage: unknown option gives exit 2 and a usage line" {
	for opt in --bogus -x -Z -0 --decompres=x; do
		usage_error "$opt"
		printf '%s\n' "$err" | grep -q '^usage: bk-gz' ||
		    fail "bk-gz $opt: no 'usage: bk-gz' line: $err"
	done
}

@test "usage: operands, bad -p and -b values give exit 2" {
	echo data > "$T/file"
	usage_error "$T/file"
	usage_error -d "$T/file"
	usage_error -- "$T/file"
	usage_error -p 0
	usage_error -p 257
	usage_error -p x
	usage_error -p ''
	usage_error --threads=-1
	usage_error -b 1K
	usage_error -b 32767
	usage_error -b 65M
	usage_error -b 1x
	usage_error --block-size=
	usage_error -p
	usage_error -b
	# the limits themselves are accepted
	mkdata_text "$T/in" 100000 3
	roundtrip "$T/in" -p 256 -b 32768
	roundtrip "$T/in" -p 1 -b 64M
}

@test "-h prints usage and exits 0; -V prints the version" {
	for opt in -h --help; do
		status=0
		bk-gz "$opt" > "$T/out" 2> "$T/stderr" < /dev/null || status=$?
		err=$(cat "$T/stderr")
		expect_status 0
		cat "$T/out" "$T/stderr" | grep -q '^usage: bk-gz' ||
		    fail "bk-gz $opt: no usage line"
	done
	for opt in -V --version; do
		io /dev/null "$T/out" bk-gz "$opt"
		expect_status 0
		grep -Eqx 'bk-gz \(bk\) [0-9]+\.[0-9]+\.[0-9]+' "$T/out" ||
		    fail "bk-gz $opt printed: $(cat "$T/out")"
		[ "$(wc -l < "$T/out")" -eq 1 ] || fail "bk-gz $opt: more than one line"
	done
}

@test "refuses compressed data to or from a terminal unless -f" {
	skip_unless script
	skip_unless timeout
	echo "some data" > "$T/in"
	bk-gz < "$T/in" > "$T/in.gz"
	export T

	status=0
	timeout 20 script -qec 'bk-gz < "$T/in"; echo "status=$?" > "$T/st"' /dev/null \
	    > "$T/tty" 2>&1 < /dev/null || true
	grep -qx 'status=2' "$T/st" ||
	    fail "compressing to a terminal: $(cat "$T/st" 2>/dev/null), expected status=2; $(cat -v "$T/tty")"
	grep -q 'bk-gz: ' "$T/tty" || fail "no message: $(cat -v "$T/tty")"
	! grep -q "$(printf '\037\213')" "$T/tty" || fail "gzip data went to the terminal"

	rm -f "$T/st"
	timeout 20 script -qec 'bk-gz -f < "$T/in" > /dev/tty; echo "status=$?" > "$T/st"' /dev/null \
	    > "$T/tty" 2>&1 < /dev/null || true
	grep -qx 'status=0' "$T/st" ||
	    fail "bk-gz -f to a terminal: $(cat "$T/st" 2>/dev/null), expected status=0"

	rm -f "$T/st"
	timeout 20 script -qec 'bk-gz -d > "$T/out"; echo "status=$?" > "$T/st"' /dev/null \
	    > "$T/tty" 2>&1 < /dev/null || true
	grep -qx 'status=2' "$T/st" ||
	    fail "decompressing from a terminal: $(cat "$T/st" 2>/dev/null), expected status=2; $(cat -v "$T/tty")"

	rm -f "$T/st"
	timeout 20 script -qec 'bk-gz -t; echo "status=$?" > "$T/st"' /dev/null \
	    > "$T/tty" 2>&1 < /dev/null || true
	grep -qx 'status=2' "$T/st" ||
	    fail "testing from a terminal: $(cat "$T/st" 2>/dev/null), expected status=2"

	# decompressed output to a terminal is fine
	rm -f "$T/st"
	timeout 20 script -qec 'bk-gz -d < "$T/in.gz"; echo "status=$?" > "$T/st"' /dev/null \
	    > "$T/tty" 2>&1 < /dev/null || true
	grep -qx 'status=0' "$T/st" ||
	    fail "decompressing to a terminal: $(cat "$T/st" 2>/dev/null), expected status=0"
	grep -q 'some data' "$T/tty" || fail "the data did not reach the terminal"
}

@test "a write error (/dev/full) gives exit 3 and a message" {
	[ -w /dev/full ] || skip "no /dev/full"
	printf 'x' > "$T/one"
	mkdata_text "$T/in" $((2 * MiB)) 37
	bk-gz < "$T/in" > "$T/in.gz"
	bk-gz < "$T/one" > "$T/one.gz"
	for f in one in; do
		io "$T/$f" /dev/full bk-gz
		expect_status 3
		expect_msg "$err" "bk-gz > /dev/full ($f)"
		io "$T/$f.gz" /dev/full bk-gz -d
		expect_status 3
		expect_msg "$err" "bk-gz -d > /dev/full ($f)"
	done
	io "$T/one" /dev/full bk-gz -p 1 -9
	expect_status 3
	expect_msg "$err"
}

@test "a reader that goes away (EPIPE): exit 3, quietly" {
	mkdata_random "$T/big" $((8 * MiB))
	{
		bk-gz < "$T/big" 2> "$T/e1" | head -c 10 > /dev/null
		ps=("${PIPESTATUS[@]}")
	} || true
	[ "${ps[0]}" -eq 3 ] || fail "bk-gz | head -c 10: bk-gz exit ${ps[0]}, expected 3"
	expect_empty "$T/e1" "stderr of bk-gz | head"

	bk-gz -1 < "$T/big" > "$T/big.gz"
	{
		bk-gz -d < "$T/big.gz" 2> "$T/e1" | head -c 10 > /dev/null
		ps=("${PIPESTATUS[@]}")
	} || true
	[ "${ps[0]}" -eq 3 ] || fail "bk-gz -d | head -c 10: bk-gz exit ${ps[0]}, expected 3"
	expect_empty "$T/e1" "stderr of bk-gz -d | head"
}

@test "-v prints one summary line; -q and the default print nothing" {
	mkdata_text "$T/in" $((1 * MiB)) 41
	io "$T/in" "$T/in.gz" bk-gz -v
	expect_status 0
	expect_msg "$err" "bk-gz -v"
	io "$T/in.gz" "$T/out" bk-gz -d -v
	expect_status 0
	expect_msg "$err" "bk-gz -d -v"
	expect_same "$T/out" "$T/in"
	io "$T/in.gz" "$T/out" bk-gz -t -v
	expect_status 0
	expect_msg "$err" "bk-gz -t -v"
	expect_empty "$T/out"
	for opts in -q "" "-d -q" "-d"; do
		case $opts in -d*) src=$T/in.gz ;; *) src=$T/in ;; esac
		# shellcheck disable=SC2086
		io "$src" "$T/out" bk-gz $opts
		expect_status 0
		expect_empty "$T/stderr" "stderr of bk-gz $opts"
	done
	# -q does not hide an error
	{ cat "$T/in.gz"; echo junk; } > "$T/bad.gz"
	io "$T/bad.gz" "$T/out" bk-gz -q -d
	expect_status 1
	expect_msg "$err" "bk-gz -q -d on a bad stream"
}

@test "-P draws nothing when stderr is not a terminal; --progress=always does" {
	mkdata_text "$T/in" $((3 * MiB)) 43
	io "$T/in" "$T/in.gz" bk-gz -P
	expect_status 0
	expect_empty "$T/stderr" "stderr of bk-gz -P into a file"
	io "$T/in" "$T/in.gz" bk-gz --progress=never
	expect_status 0
	expect_empty "$T/stderr"
	io "$T/in" "$T/in2.gz" bk-gz --progress=always
	expect_status 0
	[ -n "$err" ] || fail "--progress=always drew nothing"
	io "$T/in2.gz" "$T/out" bk-gz -d --progress=always
	expect_status 0
	expect_same "$T/out" "$T/in"
	usage_error --progress=sometimes
}
