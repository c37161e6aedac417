#!/usr/bin/env bats
# bk-verify on backups made by the real tools against a throwaway
# PostgreSQL 15 (t/pgserver.sh): every payload kind (custom, plain,
# pg_dump tar, bk-dump --all, --globals, --physical) raw, compressed and
# encrypted verifies OK; flipped bytes and truncations are caught; keys,
# the seal and the report.

load helper

setup_file() {
	local env
	VDIR=$(mktemp -d /tmp/bk-verify-t.XXXXXX)
	chmod 755 "$VDIR"
	export VDIR
	env=$("$BK_ROOT/t/pgserver.sh" start "$VDIR/srv") || return 1
	# shellcheck disable=SC1090
	. "$env"
	export PGHOST PGPORT PGUSER BK_PG_BINDIR
	createdb src || return 1
	"$BK_PG_BINDIR/pgbench" -i -s 1 -q src > /dev/null 2>&1 || return 1
	psql -X -q -d src -c "CREATE TABLE notes (id int, t text);
	    INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 500) g;
	    SELECT lo_from_bytea(0, 'a large object');" > /dev/null || return 1
	export BK_RUNDIR=$VDIR/run
	F=$VDIR/fx
	mkdir -p "$F"
	bk-crypt --keygen -o "$F/key" 2> /dev/null
	bk-crypt --to-recipient -i "$F/key" > "$F/rcpt"
	bk-dump src > "$F/custom" &&
	bk-dump --format plain src > "$F/plain" &&
	bk-dump --format tar src > "$F/pgtar" &&
	bk-dump --all > "$F/all" &&
	bk-dump --globals > "$F/globals" &&
	bk-dump --physical --checkpoint fast > "$F/base" || return 1
	for k in custom plain pgtar all globals base; do
		bk-gz -1 < "$F/$k" > "$F/$k.gz" &&
		bk-crypt -R "$F/rcpt" < "$F/$k.gz" > "$F/$k.gz.age" || return 1
	done
	bk-crypt -a -R "$F/rcpt" < "$F/custom" > "$F/custom.asc"
	"$BK_ROOT/t/pgserver.sh" stop "$VDIR/srv"
}

teardown_file() {
	"$BK_ROOT/t/pgserver.sh" stop "$VDIR/srv" 2> /dev/null || true
	rm -rf "$VDIR"
}

setup() {
	bk_setup
	F=$VDIR/fx
}

# without TAR PREFIX: TAR without the members whose names start with
# PREFIX, rewritten by Python's tarfile.
without() {
	"$PY" - "$1" "$2" <<-'EOF'
	import sys, tarfile
	src, pre = sys.argv[1], sys.argv[2]
	with tarfile.open(src) as i, \
	    tarfile.open(fileobj=sys.stdout.buffer, mode="w|",
	        format=tarfile.PAX_FORMAT) as o:
	    for m in i:
	        if not m.name.startswith(pre):
	            o.addfile(m, i.extractfile(m) if m.isfile() else None)
	EOF
}

# verify FILE [ARG...]: bk-verify < FILE; sets status and output.
verify() {
	local f=$1
	shift
	run bk-verify -i "$F/key" "$@" < "$f"
}

@test "every payload kind verifies OK, raw, compressed and encrypted" {
	for k in custom plain pgtar all globals base; do
		for s in "" .gz .gz.age; do
			verify "$F/$k$s"
			[ "$status" -eq 0 ] || fail "$k$s: exit $status: $output"
			[[ $output == OK* ]] || fail "$k$s: $output"
		done
	done
	verify "$F/custom.asc"
	expect_status 0
	verify "$F/base.gz.age" -v
	[[ $output == "OK age > gzip > tar, "* ]] || fail "layers: $output"
	[[ $output == *"base backup"* ]] || fail "the base backup: $output"
	verify "$F/all.gz" -v
	[[ $output == *"bk-dump --all"* ]] || fail "--all: $output"
	expect_eq "$(sha256sum < "$F/all.gz" | cut -d ' ' -f 1)" \
	    "$(head -n 1 <<< "$output" | sed 's/.*sha256 \([0-9a-f]*\).*/\1/')" \
	    "the SHA-256 of the stream"
}

@test "a flipped byte anywhere in a compressed or encrypted backup: exit 1 (120 trials)" {
	n=0
	for k in custom plain pgtar all base; do
		for s in .gz .gz.age; do
			size=$(fsize "$F/$k$s")
			for i in $(seq 12); do
				off=$(( (RANDOM * 32768 + RANDOM) % size ))
				cp "$F/$k$s" "$T/x"
				flip "$T/x" "$off"
				verify "$T/x"
				[ "$status" -eq 1 ] ||
				    fail "$k$s, byte $off flipped: exit $status: $output"
				n=$((n + 1))
			done
		done
	done
	[ "$n" -ge 120 ] || fail "only $n trials"
}

@test "a flipped byte in a raw dump: structure, base backup files; not plain SQL text" {
	# The custom archive's header and TOC, tar headers and a base
	# backup's files (CRC-32C in its manifest) are checked; but table
	# data in an uncompressed archive, the SQL text of a plain dump and
	# WAL (whose record CRCs are not read yet) carry no checksum that
	# bk-verify reads: only the layers above (gzip, age) catch a change
	# there.  So these flips are in what is checked.
	for off in 0 3 5 6 12 40; do
		cp "$F/custom" "$T/x"
		flip "$T/x" "$off"
		verify "$T/x"
		[ "$status" -eq 1 ] || fail "custom, byte $off: exit $status: $output"
	done
	for off in 0 100 148 150 257 300; do
		cp "$F/pgtar" "$T/x"
		flip "$T/x" "$off"
		verify "$T/x"
		[ "$status" -eq 1 ] || fail "tar header byte $off: exit $status"
	done
	# a base backup's files, against the manifest's CRC-32C: 20 members
	"$PY" - "$F/base" <<-'EOF' > "$T/offs"
	import random, tarfile, sys
	random.seed(5)
	with tarfile.open(sys.argv[1]) as t:
	    m = [x for x in t.getmembers() if x.isfile() and x.size > 0
	         and not x.name.startswith("pg_wal/")
	         and x.name != "backup_manifest"]
	for x in random.sample(m, 20):
	    print(x.offset_data + random.randrange(x.size), x.name)
	EOF
	while read -r off name; do
		cp "$F/base" "$T/x"
		flip "$T/x" "$off"
		verify "$T/x"
		[ "$status" -eq 1 ] ||
		    fail "base backup, $name (byte $off): exit $status"
		[[ $output == *"$name: CRC-32C mismatch"* ]] ||
		    fail "base backup, $name: $output"
	done < "$T/offs"
	# the WAL a base backup needs, and a file of the manifest, removed
	without "$F/base" 'pg_wal/0000' > "$T/x"
	verify "$T/x"
	expect_status 1
	[[ $output == *"WAL"* ]] || fail "no WAL: $output"
	without "$F/base" 'base/1/1259' > "$T/x"
	verify "$T/x"
	expect_status 1
	[[ $output == *"base/1/1259 is in the manifest but not in the"* ]] ||
	    fail "a file missing: $output"
	# the header and footer of a plain dump
	cp "$F/plain" "$T/x"
	flip "$T/x" 5
	verify "$T/x"
	expect_status 1
	cp "$F/plain" "$T/x"
	flip "$T/x" $(($(fsize "$F/plain") - 10))
	verify "$T/x"
	expect_status 1
}

@test "truncation at any point is exit 1, in every kind and layer" {
	for k in custom plain pgtar all globals base custom.gz plain.gz.age \
	    base.gz all.gz.age custom.asc; do
		size=$(fsize "$F/$k")
		for cut in 0 1 $((size / 3)) $((size / 2)) $((size - 513)) \
		    $((size - 1)); do
			[ "$cut" -ge 0 ] || continue
			# armor's last byte is the newline after the END line,
			# which age's format leaves optional: cut two
			[[ $k != *.asc ]] || [ "$cut" -ne $((size - 1)) ] ||
			    cut=$((size - 2))
			# and a plain dump's last byte is a blank line
			[[ $k != plain && $k != globals ]] ||
			    [ "$cut" -ne $((size - 1)) ] || cut=$((size - 2))
			head -c "$cut" "$F/$k" > "$T/x"
			verify "$T/x"
			[ "$status" -eq 1 ] ||
			    fail "$k cut at $cut of $size: exit $status: $output"
		done
	done
}

@test "keys: none, a wrong one or a wrong passphrase is exit 3 (could not check)" {
	run bk-verify < "$F/custom.gz.age"
	expect_status 3
	[[ $output == *"give -i or a passphrase"* ]] || fail "$output"
	bk-crypt --keygen -o "$T/other" 2> /dev/null
	run bk-verify -i "$T/other" < "$F/custom.gz.age"
	expect_status 3
	# a passphrase-encrypted backup
	printf 'pass phrase\n' > "$T/pw"
	chmod 600 "$T/pw"
	bk-crypt --passphrase-file "$T/pw" --work-factor 10 < "$F/custom.gz" \
	    > "$T/p.age"
	run bk-verify --passphrase-file "$T/pw" < "$T/p.age"
	expect_status 0
	printf 'wrong\n' > "$T/pw2"
	chmod 600 "$T/pw2"
	run bk-verify --passphrase-file "$T/pw2" < "$T/p.age"
	expect_status 3
}

@test "empty input, garbage, a failed upstream, the JSON report" {
	run bk-verify < /dev/null
	expect_status 1
	[[ $output == *empty* ]] || fail "$output"
	head -c 4096 /dev/urandom > "$T/junk"
	run bk-verify < "$T/junk"
	expect_status 1
	head -c 5000 "$F/custom.gz" > "$T/cut.gz"
	run sh -c "bk-gz -d < '$T/cut.gz' | bk-gz | bk-verify"
	expect_status 4
	run bk-verify -i "$F/key" --json < "$F/all.gz.age"
	expect_status 0
	"$PY" -c 'import json,sys; r=json.load(sys.stdin)
assert r["ok"] is True and r["exit"] == 0, r
assert [l["layer"] for l in r["layers"]] == ["age", "gzip", "tar"], r
assert len(r["sha256"]) == 64' <<< "$output" || fail "--json: $output"
	run bk-verify --json < "$T/junk"
	expect_status 1
	"$PY" -c 'import json,sys; r=json.load(sys.stdin.readline and sys.stdin)
assert r["ok"] is False and r["exit"] == 1 and r["error"], r' \
	    <<< "$(head -n 1 <<< "$output")" || fail "--json failure: $output"
}

@test "usage: exit 2; -h, -V" {
	run bk-verify file
	expect_status 2
	run bk-verify --bogus
	expect_status 2
	run bk-verify -h
	expect_status 0
	run bk-verify -V
	expect_status 0
}
