#!/usr/bin/env bash
# demo.sh - the main job end to end, on a throwaway PostgreSQL server: back
# a database up with bk-dump | bk-gz | bk-crypt | bk-s3put into a backups
# directory, list it, verify every layer, check its freshness, dry-run a
# retention policy, restore it with bk and with stock tools only (age,
# gzip, pg_restore), compare the row counts,
# and show the pipeline seal stop a broken pipeline that a plain shell calls
# a success.  Every command is printed (+ ...) before it runs.  Cleans up
# (server stopped, temp dir removed) even on failure; exits non-zero if any
# step fails.  `make demo` runs it after `make all`; needs `make deps`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
pgserver=$repo/t/pgserver.sh
s3server=$repo/t/s3server.sh
case ${S3:-0} in
0 | '') s3=0 ;;
1) s3=1 ;;
*) echo "demo: S3=$S3: expected 0 or 1" >&2; exit 2 ;;
esac
for t in bk-dump bk-gz bk-crypt bk-s3put bk-s3get bk-s3ls bk-verify bk-age bk-prune; do
	[ -x "$repo/bin/$t" ] || { echo "demo: bin/$t: not built (run make)" >&2; exit 1; }
done
export PATH="$repo/bin:$PATH"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bk-demo.XXXXXX")
# The server may run as another user (as root: postgres): let it reach pg/.
chmod 711 "$tmp"
started=0
s3started=0

cleanup() {
	local rc=$?
	cd /
	echo
	if [ "$started" -eq 1 ]; then
		echo "+ $pgserver stop $tmp/pg"
		"$pgserver" stop "$tmp/pg" || rc=1
	fi
	if [ "$s3started" -eq 1 ]; then
		echo "+ $s3server stop $tmp/s3"
		"$s3server" stop "$tmp/s3" || rc=1
	fi
	rm -rf "$tmp"
	if [ "$rc" -eq 0 ]; then
		echo "demo: ok (cleaned up $tmp)"
	else
		echo "demo: FAILED (cleaned up $tmp)" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# say TEXT: a heading.
say() {
	printf '\n# %s\n' "$*"
}

# run CMD: print the shell command, then run it; a failure ends the demo.
run() {
	printf '+ %s\n' "$1"
	if ! eval "$1"; then
		echo "demo: failed: $1" >&2
		exit 1
	fi
}

# status CMD: print and run a command that is expected to fail; its exit
# status goes to $st.
status() {
	printf '+ %s\n' "$1"
	set +e
	eval "$1"
	st=$?
	set -e
	echo "  (exit status $st)"
}

# rowcounts DB: "table rows" for each table of DB, sorted.
rowcounts() {
	psql -X -At -F ' ' -d "$1" -c "
	    SELECT c.relname, (xpath('/row/n/text()', query_to_xml(
	        format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
	        false, true, '')))[1]::text
	    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	    WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1"
}

cd "$tmp"
echo "demo: working in $tmp with $(bk-gz -V)"

say "a throwaway PostgreSQL server (t/pgserver.sh)"
printf '+ %s\n' "$pgserver start pg"
started=1 # stop is safe on a half-started server too
env=$("$pgserver" start pg)
# shellcheck disable=SC1090
. "$env"
export PATH="$BK_PG_BINDIR:$PATH"
echo "  PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER"

if [ "$s3" -eq 1 ]; then
	say "a throwaway S3-compatible server (t/s3server.sh: Swift with s3api) and a bucket"
	printf '+ %s\n' "$s3server start s3"
	s3started=1
	"$s3server" start s3
	# shellcheck disable=SC1091
	. s3/env
	echo "  AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL (credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
	run "$s3server mb s3 demo"
	dest=s3://demo/backups/
else
	dest=backups/
fi

say "sample data: pgbench -i -s 1 and a small table"
run "createdb demo"
run "pgbench -i -s 1 -q demo 2>&1 | tail -n 1"
run "psql -X -q -v ON_ERROR_STOP=1 -d demo -c \"CREATE TABLE notes (id serial PRIMARY KEY, body text, meta jsonb, at timestamptz DEFAULT now())\""
run "psql -X -q -v ON_ERROR_STOP=1 -d demo -c \"INSERT INTO notes (body, meta) SELECT 'note ' || i || ': ünïcödé', jsonb_build_object('n', i) FROM generate_series(1, 1000) i\""

say "keys: the database host needs only the recipient; keep the identity elsewhere"
run "bk-crypt --keygen -o identity.txt"
run "bk-crypt --to-recipient -i identity.txt > recipients.txt"
run "cat recipients.txt"

if [ "$s3" -eq 1 ]; then
	say "the backup: bk-dump | bk-gz | bk-crypt | bk-s3put into the bucket"
	echo "# (a directory works the same; the key is a strftime template, in UTC)"
else
	say "the backup: bk-dump | bk-gz | bk-crypt | bk-s3put into a backups directory"
	echo "# (an s3:// URL works the same; the key is a strftime template, in UTC)"
fi
run "bk-dump demo | bk-gz | bk-crypt -R recipients.txt | bk-s3put '${dest}demo-%Y%m%dT%H%M%SZ.dump.gz.age'"
run "bk-s3ls $dest"
file=$(bk-s3ls "$dest" | tail -n 1 | cut -d ' ' -f 3-)

say "check it: every layer, with the identity (kept away from the database host)"
run "bk-s3get --latest $dest | bk-verify -v -i identity.txt"
echo "# and a restore test: load it into a scratch database, count every table's rows"
run "bk-s3get --latest $dest | bk-verify -v -i identity.txt --restore-test 'dbname=postgres'"

say "monitoring and retention: is the newest backup fresh and big enough; what would a policy delete"
run "bk-age --warning 25h --critical 49h --min-size 1K $dest"
run "bk-prune -n --keep-daily 30 --keep-weekly 12 --keep-monthly 12 --keep-yearly 7 --match 'demo-*' $dest"

say "restore it with bk: the newest backup, checked against its recorded SHA-256"
run "createdb restored_bk"
run "bk-s3get --latest $dest | bk-crypt -d -i identity.txt | bk-gz -d | pg_restore -d restored_bk"

run "createdb restored"
if [ "$s3" -eq 1 ]; then
	say "restore it into a new database with stock tools only: aws, age, gzip, pg_restore"
	run "aws --endpoint-url \$AWS_ENDPOINT_URL s3 cp '$file' - | age -d -i identity.txt | gzip -dc | pg_restore -d restored"
else
	say "restore it into a new database with stock tools only: age, gzip, pg_restore"
	run "age -d -i identity.txt '$file' | gzip -dc | pg_restore -d restored"
fi

say "compare row counts (rowcounts DB: one 'table rows' line per table)"
run "rowcounts demo > demo.counts"
run "rowcounts restored > restored.counts"
run "rowcounts restored_bk > restored_bk.counts"
run "cat restored.counts"
run "diff demo.counts restored.counts && diff demo.counts restored_bk.counts && echo 'row counts match'"

say "the seal: a failing upstream must not look like a success"
run "mkdir seal"
run "bk-dump --format plain demo | bk-gz > seal/plain.sql.gz"
half=$(($(wc -c <seal/plain.sql.gz) / 2))
run "head -c $half seal/plain.sql.gz > seal/truncated.sql.gz"
echo "# with gzip, sh reports the last stage only: a truncated copy, status 0"
status "sh -c 'gzip -dc < seal/truncated.sql.gz | gzip > seal/copy1.sql.gz'"
[ "$st" -eq 0 ] || { echo "demo: expected gzip's pipeline to report 0" >&2; exit 1; }
echo "# with bk-gz, the downstream sees the upstream failed and exits 4,"
echo "# leaving its output without a gzip trailer"
status "sh -c 'bk-gz -d < seal/truncated.sql.gz | bk-gz > seal/copy2.sql.gz'"
[ "$st" -eq 4 ] || { echo "demo: expected exit status 4, got $st" >&2; exit 1; }
status "gzip -t seal/copy2.sql.gz"
[ "$st" -ne 0 ] || { echo "demo: expected gzip -t to refuse copy2" >&2; exit 1; }
