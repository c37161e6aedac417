# shellcheck shell=bash
# cpu.sh - sourced by the benchmarks (bash): is the machine quiet enough
# to measure on, and how much of it did the host take while we measured.
#
# The load average is no guide for either: it counts tasks in
# uninterruptible sleep, and after a benchmark's own set-up (loading a
# database) it stays high for minutes while the CPUs are idle.  These read
# the CPU time counters of /proc/stat instead.
#
#   cpu_settle            wait until the CPUs are less than 10% busy over a
#                         second (30 s at most); if they never are, print a
#                         warning saying how busy they were.
#   cpu_mark              remember the counters now.
#   cpu_stolen            print the share of CPU time the hypervisor took
#                         from this machine since cpu_mark ("steal"), and
#                         a warning if it was 5% or more.

# cpu_now: "total idle steal" in ticks, over all CPUs.
cpu_now() {
	awk '$1 == "cpu" {
		t = 0
		for (i = 2; i <= NF; i++) t += $i
		# idle, iowait; steal (field 9)
		print t, $5 + $6, $9
		exit
	}' /proc/stat
}

# cpu_share A B FIELD: FIELD's share (1 idle, 2 steal) of the time between
# samples A and B, in percent.
cpu_share() {
	awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		d = y[1] - x[1]
		printf "%.0f", (d > 0 ? 100 * (y[f + 1] - x[f + 1]) / d : 0)
	}'
}

cpu_settle() {
	local limit=30 i a b busy=0 steal=0

	[ -r /proc/stat ] || return 0
	for ((i = 0; i < limit; i++)); do
		a=$(cpu_now)
		sleep 1
		b=$(cpu_now)
		busy=$((100 - $(cpu_share "$a" "$b" 1)))
		steal=$(cpu_share "$a" "$b" 2)
		[ "$busy" -ge 10 ] || return 0
	done
	echo "warning: the CPUs are still ${busy}% busy (${steal}% taken by the" \
	    "host) after ${limit} s: the figures will be noisy"
}

cpu_mark() {
	cpu_mark_at=$(cpu_now)
}

cpu_stolen() {
	local s

	[ -n "${cpu_mark_at:-}" ] || return 0
	s=$(cpu_share "$cpu_mark_at" "$(cpu_now)" 2)
	if [ "$s" -ge 5 ]; then
		echo "warning: the host took ${s}% of the CPU time during the runs" \
		    "(steal): the figures are slower than this machine"
	else
		echo "CPU time taken by the host during the runs (steal): ${s}%"
	fi
}
