#!/usr/bin/env bats
# contrib.bats - the recipes in contrib/ do what they say: the crontab's
# lines and the systemd units' command lines are taken from the files as
# cron and systemd would read them (escapes undone), pointed at a
# throwaway PostgreSQL and S3 server, and run; the monitoring examples
# are run the way Nagios would, and the Prometheus rules use the metrics
# bk-age really writes.

load helper

setup_file() {
	servers_start contrib backups || return 1
	# mydb, with a backup of over 1 MiB once compressed and encrypted
	createdb mydb || return 1
	psql -X -q -d mydb -c "CREATE TABLE t AS SELECT g, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 60000) g" ||
	    return 1
	bk-crypt --keygen -o "$W/identity.txt" 2> /dev/null || return 1
	bk-crypt --to-recipient -i "$W/identity.txt" > "$W/recipients.txt"
}

teardown_file() {
	servers_stop
}

# local_paths: sed script pointing the recipes' paths at this test's.
local_paths() {
	printf '%s\n' \
	    "s|/etc/bk/recipients.txt|$W/recipients.txt|g" \
	    "s|/var/log/bk/journal|$T/journal|g" \
	    "s|/var/lib/prometheus/node-exporter|$T/prom|g" \
	    "s|/usr/local/bin/||g"
}

# job CMD: run a recipe's command under /bin/sh as cron or systemd would:
# a clean environment with the S3 server's settings and bin/ on PATH.
# Sets $status and $output (stdout and stderr).
job() {
	run env -i HOME="$T" PATH="$BK_ROOT/bin:/usr/bin:/bin" \
	    PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" \
	    BK_RUNDIR="$BK_RUNDIR" BK_SANITIZE="${BK_SANITIZE:-}" \
	    sh -c ". '$W/s3/env'; $1"
}

# cron_jobs: the command fields of contrib/cron/bk (after the 5 time
# fields and the user), with \% turned into % as cron does.
cron_jobs() {
	grep -Ev '^[[:space:]]*(#|$)|^[A-Z_]+=' "$BK_ROOT/contrib/cron/bk" |
	    sed -E 's/^([^[:space:]]+[[:space:]]+){6}//; s/\\%/%/g' |
	    sed "$(local_paths)"
}

@test "contrib/cron/bk: well formed: 02:00 daily, no unescaped %, the policy's numbers" {
	local f=$BK_ROOT/contrib/cron/bk line
	grep -Ev '^[[:space:]]*(#|$)|^[A-Z_]+=' "$f" > "$T/jobs"
	expect_eq "$(grep -c . "$T/jobs")" 3 "job lines"
	while IFS= read -r line; do
		# 5 time fields, a user, a command
		[[ $line =~ ^([0-9*/,-]+[[:space:]]+){5}[a-z]+[[:space:]]+[a-z] ]] ||
		    fail "not a cron.d line: $line"
		# a bare % would end the command there
		[[ ! $line =~ (^|[^\\])% ]] || fail "unescaped %: $line"
	done < "$T/jobs"
	grep -q '^0 2 \* \* \* .*bk-dump .*| bk-gz .*| bk-crypt .*| bk-s3put ' "$T/jobs" ||
	    fail "no 02:00 pipeline"
	grep -q -- '--keep-daily 30 --keep-weekly 12 --keep-monthly 12 --keep-yearly 7' "$T/jobs" ||
	    fail "not the retention policy"
	grep -q 'bk-age -w 25h .*--min-size 1M' "$T/jobs" || fail "not the alert policy"
}

# cron_env: the crontab's variables (but PATH and SHELL) as exports.
cron_env() {
	grep -E '^[A-Z_]+=' "$BK_ROOT/contrib/cron/bk" | grep -Ev '^(PATH|SHELL)=' |
	    sed -e 's/^/export /; s/$/;/' -e "$(local_paths)" | tr '\n' ' '
}

@test "contrib/cron/bk: the backup, prune and check lines work as cron runs them" {
	cron_jobs | sed 's|s3://backups/|s3://backups/cron/|' |
	    sed "s|^|$(cron_env)|" > "$T/jobs"
	job "$(sed -n 1p "$T/jobs")"
	[ "$status" -eq 0 ] || fail "backup: exit $status: $output"
	[ -z "$output" ] || fail "backup is not quiet: $output"
	bk-s3ls s3://backups/cron/mydb/ > "$T/ls"
	grep -Eq ' s3://backups/cron/mydb/mydb-[0-9]{8}T[0-9]{6}Z\.dump\.gz\.age$' "$T/ls" ||
	    fail "no backup named by the template: $(cat "$T/ls")"
	# the object is a real backup: it restores with stock tools
	bk-s3get -q --latest s3://backups/cron/mydb/ | age -d -i "$W/identity.txt" |
	    gzip -dc | pg_restore -l > "$T/toc" || fail "not a dump"
	grep -q 'TABLE DATA public t ' "$T/toc" || fail "no table data in the dump"

	job "$(sed -n 2p "$T/jobs")"
	[ "$status" -eq 0 ] || fail "prune: exit $status: $output"
	expect_eq "$(bk-s3ls s3://backups/cron/mydb/)" "$(cat "$T/ls")" "objects after pruning"

	job "$(sed -n 3p "$T/jobs")"
	[ -z "$output" ] || fail "check mailed something about a fresh backup: $output"

	# a failed night (an object under 1 MiB): the check line says so
	head -c 1000 /dev/urandom | bk-s3put -q "s3://backups/cron/mydb/mydb-$(date -u +%Y%m%dT%H%M%SZ -d '+1 min').dump.gz.age" > /dev/null
	job "$(sed -n 3p "$T/jobs")"
	[[ $output == "BK-AGE "[CW]* ]] || fail "no alert: $output"
}

# unit_cmd FILE KEY: the command line of KEY= in a unit file, as systemd
# would run it for instance mydb: %i, %% and $$ undone.
unit_cmd() {
	sed -n "s/^$2=//p" "$BK_ROOT/contrib/systemd/$1" |
	    sed -e 's/%i/mydb/g; s/%%/%/g; s/\$\$/$/g' -e "$(local_paths)"
}

@test "contrib/systemd: the units verify; their commands work as systemd runs them" {
	local u
	if command -v systemd-analyze > /dev/null; then
		for u in bk-backup@ bk-age@; do
			cp "$BK_ROOT/contrib/systemd/$u.service" "$T/${u}mydb.service"
			cp "$BK_ROOT/contrib/systemd/$u.timer" "$T/${u}mydb.timer"
		done
		(cd "$T" && systemd-analyze verify --man=no ./*.service ./*.timer) ||
		    fail "systemd-analyze verify"
	fi
	grep -qx 'OnCalendar=\*-\*-\* 02:00:00 UTC' "$BK_ROOT/contrib/systemd/bk-backup@.timer" ||
	    fail "not daily at 02:00"
	env="export BK_BUCKET=s3://backups/systemd BK_RECIPIENTS=$W/recipients.txt;"
	job "$env $(unit_cmd bk-backup@.service ExecStart)"
	[ "$status" -eq 0 ] || fail "ExecStart: exit $status: $output"
	grep -Eq ' s3://backups/systemd/mydb/mydb-[0-9]{8}T[0-9]{6}Z\.dump\.gz\.age$' \
	    <(bk-s3ls s3://backups/systemd/mydb/) || fail "no backup stored"
	job "$env $(unit_cmd bk-backup@.service ExecStartPost)"
	[ "$status" -eq 0 ] || fail "ExecStartPost: exit $status: $output"
	mkdir "$T/prom"
	job "$env $(unit_cmd bk-age@.service ExecStart)"
	[ "$status" -eq 0 ] || fail "bk-age: exit $status: $output"
	grep -qx 'bk_backup_check_state{location="s3://backups/systemd/mydb/"} 0' "$T/prom/bk-mydb.prom" ||
	    fail "textfile: $(cat "$T/prom/bk-mydb.prom")"
	cp "$T/prom/bk-mydb.prom" "$W/bk-mydb.prom"
}

@test "contrib/monitoring: the rules use the metrics bk-age writes; Nagios's command line runs" {
	local metric args cmd
	[ -s "$W/bk-mydb.prom" ] || skip "needs the systemd test's textfile"
	# every metric named in an expr is one bk-age writes
	/usr/bin/python3 -c 'import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
for g in d["groups"]:
	for r in g["rules"]:
		print(r["expr"])' "$BK_ROOT/contrib/monitoring/prometheus-rules.yml" > "$T/exprs" ||
	    fail "the rules are not YAML"
	for metric in $(grep -Eo 'bk_[a-z_]+' "$T/exprs" | sort -u); do
		grep -q "^$metric{" "$W/bk-mydb.prom" || fail "$metric: bk-age does not write it"
	done
	if command -v promtool > /dev/null; then
		promtool check rules "$BK_ROOT/contrib/monitoring/prometheus-rules.yml" ||
		    fail "promtool"
	fi

	# Nagios: $ARGn$ from the service's check_command, run by a shell
	args=$(sed -n 's/^ *check_command *check_bk_age!//p' "$BK_ROOT/contrib/monitoring/nagios.cfg")
	cmd=$(sed -n 's/^ *command_line *//p' "$BK_ROOT/contrib/monitoring/nagios.cfg")
	IFS='!' read -r -a a <<< "$args"
	for i in 1 2 3 4 5; do
		cmd=${cmd//"\$ARG$i\$"/${a[i - 1]}}
	done
	cmd=${cmd//s3:\/\/backups\//s3://backups/systemd/}
	job "$(sed "$(local_paths)" <<< "$cmd")"
	[ "$status" -eq 0 ] || fail "check_bk_age: exit $status: $output"
	[[ $output == "BK-AGE OK - "*"| 'age'="* ]] || fail "not a plugin line: $output"

	# Icinga 2: every argument is an option bk-age has
	bk-age --help > "$T/help" 2>&1
	for o in $(grep -Eo '"--[a-z-]+"' "$BK_ROOT/contrib/monitoring/icinga2.conf" | tr -d '"'); do
		grep -q -- " $o" "$T/help" || fail "icinga2.conf: bk-age has no $o"
	done
}
