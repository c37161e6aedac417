#!/usr/bin/env bats
# bench.bats - the benchmark scripts' own machinery, without running a
# benchmark: every script parses, and bench/cpu.sh's arithmetic on
# /proc/stat samples (how busy the CPUs were, how much the host took) is
# right.

load helper

@test "every benchmark script parses and loads bench/cpu.sh" {
	local f n=0
	for f in "$BK_ROOT"/bench/*; do
		[ -x "$f" ] || continue
		bash -n "$f" || fail "$f does not parse"
		n=$((n + 1))
		case ${f##*/} in
		run | mkdata) continue ;;
		esac
		grep -q '^\. "$repo/bench/cpu.sh"$' "$f" ||
		    fail "${f##*/} does not load bench/cpu.sh"
		grep -q '^cpu_settle$' "$f" || fail "${f##*/}: no cpu_settle"
		grep -q '^cpu_stolen$' "$f" || fail "${f##*/}: no cpu_stolen"
	done
	[ "$n" -ge 8 ] || fail "only $n scripts in bench/"
}

@test "cpu_share: idle and steal shares between two samples" {
	cd "$T"
	. "$BK_ROOT/bench/cpu.sh"
	expect_eq "$(cpu_share '1000 600 10' '2000 1100 60' 1)" 50 idle
	expect_eq "$(cpu_share '1000 600 10' '2000 1100 60' 2)" 5 steal
	# no time passed: nothing to divide, 0
	expect_eq "$(cpu_share '1000 600 10' '1000 600 10' 1)" 0 "no time"
	# awk must not take the comparison for an output redirection
	[ ! -e 0 ] || fail "a file named 0 appeared"
}

@test "cpu_now reads three counters from /proc/stat, in order" {
	[ -r /proc/stat ] || skip "no /proc/stat"
	cd "$T"
	. "$BK_ROOT/bench/cpu.sh"
	local a b
	a=$(cpu_now)
	[[ $a =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]] || fail "cpu_now: '$a'"
	sleep 0.2
	b=$(cpu_now)
	# the total only grows, and holds the idle time
	awk -v a="$a" -v b="$b" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		exit !(y[1] >= x[1] && x[1] >= x[2] + x[3])
	}' || fail "samples '$a' then '$b'"
}

@test "cpu_stolen: a share, or nothing without cpu_mark" {
	[ -r /proc/stat ] || skip "no /proc/stat"
	cd "$T"
	. "$BK_ROOT/bench/cpu.sh"
	expect_eq "$(cpu_stolen)" "" "before cpu_mark"
	cpu_mark
	sleep 0.2
	run cpu_stolen
	expect_status 0
	[[ $output =~ \(steal\):\ [0-9]+%$|^warning:\ the\ host\ took ]] ||
	    fail "cpu_stolen: '$output'"
}
