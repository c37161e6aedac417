/* monitor.c - unit tests for lib/monitor: what bk-age decides (states,
 * thresholds and their boundaries, tiny and missing backups, counts,
 * seals, the journal) and how it says it (plugin line, perfdata, JSON,
 * Prometheus text, the atomic textfile). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"
#include "tap.h"

/* 2026-11-21T02:00:13Z */
#define NOW	((time_t)1795226413)
#define MiB	(1024ULL * 1024)

static struct bk_listing L;

static void
opts_default(struct bk_mon_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->warning = 25 * 3600;
	o->critical = 49 * 3600;
	o->min_size = 1;
}

static void
add(time_t t, uint64_t size, const char *url)
{
	struct bk_err e;

	if (bk_listing_add(&L, t, size, url, &e) < 0)
		diag("add: %s", e.msg);
}

/* Evaluate L; check state and summary. */
static void
expect(const struct bk_mon_opts *o, const char *seal,
    const struct bk_mon_journal *j, enum bk_mon_state st,
    const char *summary, const char *what)
{
	struct bk_mon_result r;
	struct bk_err e;

	if (!ok(bk_mon_eval(&L, o, NOW, seal, j, &r, &e) == 0, "%s: eval",
	    what)) {
		diag("  %s", e.msg);
		return;
	}
	is_str(bk_mon_state_name(r.state), bk_mon_state_name(st),
	    "%s: state", what);
	is_str(r.summary, summary, "%s: summary", what);
	bk_mon_result_free(&r);
}

static void
t_states(void)
{
	is_str(bk_mon_state_name(BK_MON_OK), "OK", "OK");
	is_str(bk_mon_state_name(BK_MON_WARNING), "WARNING", "WARNING");
	is_str(bk_mon_state_name(BK_MON_CRITICAL), "CRITICAL", "CRITICAL");
	is_str(bk_mon_state_name(BK_MON_UNKNOWN), "UNKNOWN", "UNKNOWN");
	is_int(BK_MON_OK, 0, "OK exits 0");
	is_int(BK_MON_WARNING, 1, "WARNING exits 1");
	is_int(BK_MON_CRITICAL, 2, "CRITICAL exits 2");
	is_int(BK_MON_UNKNOWN, 3, "UNKNOWN exits 3");
}

/* Age exactly at a threshold is within it: only over it alerts. */
static void
t_boundaries(void)
{
	struct bk_mon_opts o;

	opts_default(&o);
	bk_listing_free(&L);
	add(NOW - 90000, 100, "/b/db.dump");
	expect(&o, NULL, NULL, BK_MON_OK,
	    "newest backup 1d1h old (/b/db.dump, 100 B)", "age = warning");
	L.obj[0].time = NOW - 90001;
	expect(&o, NULL, NULL, BK_MON_WARNING,
	    "newest backup 1d1h old (/b/db.dump, 100 B); age over warning "
	    "1d1h", "age = warning + 1s");
	L.obj[0].time = NOW - 176400;
	expect(&o, NULL, NULL, BK_MON_WARNING,
	    "newest backup 2d1h old (/b/db.dump, 100 B); age over warning "
	    "1d1h", "age = critical");
	L.obj[0].time = NOW - 176401;
	expect(&o, NULL, NULL, BK_MON_CRITICAL,
	    "newest backup 2d1h old (/b/db.dump, 100 B); age over critical "
	    "2d1h", "age = critical + 1s");
	L.obj[0].time = NOW - 11520;
	expect(&o, NULL, NULL, BK_MON_OK,
	    "newest backup 3h12m old (/b/db.dump, 100 B)", "3h12m");
	L.obj[0].time = NOW + 3600;
	expect(&o, NULL, NULL, BK_MON_OK,
	    "newest backup 0s old (/b/db.dump, 100 B)",
	    "a time in the future is age 0");
	o.warning = o.critical = 0;
	L.obj[0].time = NOW;
	expect(&o, NULL, NULL, BK_MON_OK,
	    "newest backup 0s old (/b/db.dump, 100 B)", "thresholds 0, age 0");
	L.obj[0].time = NOW - 1;
	expect(&o, NULL, NULL, BK_MON_CRITICAL,
	    "newest backup 1s old (/b/db.dump, 100 B); age over critical 0s",
	    "thresholds 0, age 1s");
}

static void
t_none(void)
{
	struct bk_mon_opts o;
	struct bk_mon_result r;
	struct bk_err e;
	char *s;

	opts_default(&o);
	bk_listing_free(&L);
	expect(&o, NULL, NULL, BK_MON_CRITICAL, "no backup found",
	    "empty listing");
	ok(bk_mon_eval(&L, &o, NOW, NULL, NULL, &r, &e) == 0, "eval empty");
	s = bk_mon_perfdata(&r);
	is_str(s, "'age'=U;90000;176400;0 'size'=U;;;0 'count'=0;;;0",
	    "perfdata without a backup: U");
	free(s);
	ok(r.newest == NULL && r.newest_object == NULL && r.count == 0,
	    "nothing newest, nothing counted");
	bk_mon_result_free(&r);

	add(NOW, 100, "/b/README");
	add(NOW, 100, "/b/db.dump/notes.txt");
	o.match = "db-*.dump";
	expect(&o, NULL, NULL, BK_MON_CRITICAL,
	    "no backup found matching 'db-*.dump'",
	    "nothing matches: the glob is named");
	add(NOW - 60, 100, "/b/x/db-1.dump");
	expect(&o, NULL, NULL, BK_MON_OK,
	    "newest backup 1m0s old (/b/x/db-1.dump, 100 B)",
	    "--match applies to the last path element");
	o.min_count = 5;
	expect(&o, NULL, NULL, BK_MON_WARNING,
	    "newest backup 1m0s old (/b/x/db-1.dump, 100 B); only 1 backup "
	    "(min 5)", "min-count: WARNING");
}

/* An empty or tiny dump is a failed run: never OK, never counted. */
static void
t_tiny(void)
{
	struct bk_mon_opts o;
	struct bk_mon_result r;
	struct bk_err e;
	char *s;

	opts_default(&o);
	bk_listing_free(&L);
	add(NOW - 3600, 5 * MiB, "s3://b/db/db-1.dump");
	add(NOW - 60, 0, "s3://b/db/db-2.dump");
	expect(&o, NULL, NULL, BK_MON_CRITICAL,
	    "newest backup 1h0m old (s3://b/db/db-1.dump, 5 MiB); newest "
	    "object s3://b/db/db-2.dump is empty",
	    "empty newest: CRITICAL, age of the last real backup");
	o.min_size = MiB;
	L.obj[1].size = 1000;
	ok(bk_mon_eval(&L, &o, NOW, NULL, NULL, &r, &e) == 0, "eval tiny");
	is_str(bk_mon_state_name(r.state), "CRITICAL", "tiny newest: CRITICAL");
	is_str(r.summary, "newest backup 1h0m old (s3://b/db/db-1.dump, 5 "
	    "MiB); newest object s3://b/db/db-2.dump too small (1000 B < 1 "
	    "MiB)", "tiny newest: summary");
	ok(r.newest == &L.obj[0] && r.newest_object == &L.obj[1] &&
	    r.count == 1 && r.matched == 2 && r.age == 3600,
	    "tiny newest: age, count and newest are those of real backups");
	s = bk_mon_perfdata(&r);
	is_str(s, "'age'=3600s;90000;176400;0 'size'=5242880B;;1048576:;0 "
	    "'count'=1;;;0", "tiny newest: perfdata");
	free(s);
	bk_mon_result_free(&r);

	L.obj[0].size = 10;
	expect(&o, NULL, NULL, BK_MON_CRITICAL,
	    "no backup of at least 1 MiB; newest object s3://b/db/db-2.dump "
	    "too small (1000 B < 1 MiB)", "all too small");
	/* A tiny one older than the newest backup is history. */
	L.obj[0].size = 5 * MiB;
	L.obj[0].time = NOW - 30;
	expect(&o, NULL, NULL, BK_MON_OK,
	    "newest backup 30s old (s3://b/db/db-1.dump, 5 MiB)",
	    "an older tiny object is not a problem");
	o.min_count = 2;
	expect(&o, NULL, NULL, BK_MON_WARNING,
	    "newest backup 30s old (s3://b/db/db-1.dump, 5 MiB); only 1 "
	    "backup (min 2)", "... nor a backup for --min-count");
}

static void
t_pick(void)
{
	struct bk_mon_opts o;
	const struct bk_listing_obj *n;
	struct bk_err e;

	opts_default(&o);
	bk_listing_free(&L);
	add(NOW - 10, 100, "s3://b/db-b");
	add(NOW - 10, 100, "s3://b/db-c");
	add(NOW - 10, 100, "s3://b/db-a");
	ok(bk_mon_newest(&L, &o, &n, &e) == 0 && n == &L.obj[1],
	    "same time: the URL that sorts last");
	/* A multipart object's KEY.sha256 record, written after it. */
	add(NOW - 5, 6 * MiB, "s3://b/db-d");
	add(NOW - 4, 80, "s3://b/db-d.sha256");
	o.min_size = MiB;
	ok(bk_mon_newest(&L, &o, &n, &e) == 0 && n == &L.obj[3],
	    "KEY.sha256 beside KEY is not a backup");
	expect(&o, NULL, NULL, BK_MON_OK,
	    "newest backup 5s old (s3://b/db-d, 6 MiB)",
	    "... nor a too small newest object");
	add(NOW - 1, 80, "s3://b/lone.sha256");
	expect(&o, NULL, NULL, BK_MON_CRITICAL,
	    "newest backup 5s old (s3://b/db-d, 6 MiB); newest object "
	    "s3://b/lone.sha256 too small (80 B < 1 MiB)",
	    "a .sha256 without its object counts");
	o.match = "db-*";
	expect(&o, NULL, NULL, BK_MON_OK,
	    "newest backup 5s old (s3://b/db-d, 6 MiB)",
	    "... unless --match leaves it out");
}

static void
t_seal(void)
{
	struct bk_mon_opts o;

	opts_default(&o);
	bk_listing_free(&L);
	add(NOW - 60, 100, "/b/db.dump");
	expect(&o, "unsealed", NULL, BK_MON_OK,
	    "newest backup 1m0s old (/b/db.dump, 100 B)",
	    "seal ignored without --require-sealed");
	o.require_sealed = 1;
	expect(&o, "ok", NULL, BK_MON_OK,
	    "newest backup 1m0s old (/b/db.dump, 100 B)", "sealed: OK");
	expect(&o, "unsealed", NULL, BK_MON_CRITICAL,
	    "newest backup 1m0s old (/b/db.dump, 100 B); newest backup not "
	    "sealed (seal: unsealed)", "unsealed: CRITICAL");
	expect(&o, "none", NULL, BK_MON_CRITICAL,
	    "newest backup 1m0s old (/b/db.dump, 100 B); newest backup not "
	    "sealed (seal: none)", "stored from a file: CRITICAL");
	expect(&o, NULL, NULL, BK_MON_CRITICAL,
	    "newest backup 1m0s old (/b/db.dump, 100 B); newest backup not "
	    "sealed (no seal recorded)", "no seal recorded: CRITICAL");
	expect(&o, "", NULL, BK_MON_CRITICAL,
	    "newest backup 1m0s old (/b/db.dump, 100 B); newest backup not "
	    "sealed (no seal recorded)", "empty seal: CRITICAL");
}

/* The worst state wins and every problem is named. */
static void
t_worst(void)
{
	struct bk_mon_opts o;
	struct bk_mon_journal j;

	opts_default(&o);
	o.min_count = 3;
	o.require_sealed = 1;
	o.max_failures = 2;
	memset(&j, 0, sizeof(j));
	j.runs = 5;
	j.failures = 2;
	bk_listing_free(&L);
	add(NOW - 100000, 100, "/b/db-1.dump");
	add(NOW - 200000, 100, "/b/db-0.dump");
	add(NOW - 50, 0, "/b/db-2.dump");
	expect(&o, "unsealed", &j, BK_MON_CRITICAL,
	    "newest backup 1d3h old (/b/db-1.dump, 100 B); newest object "
	    "/b/db-2.dump is empty; age over warning 1d1h; newest backup not "
	    "sealed (seal: unsealed); only 2 backups (min 3); 2 consecutive "
	    "failed runs (max 2)", "every problem, CRITICAL wins");
	j.failures = 1;
	L.obj[2].size = 100;
	expect(&o, "ok", &j, BK_MON_OK,
	    "newest backup 50s old (/b/db-2.dump, 100 B)", "all fine");
	o.min_count = 4;
	expect(&o, "ok", &j, BK_MON_WARNING,
	    "newest backup 50s old (/b/db-2.dump, 100 B); only 3 backups "
	    "(min 4)", "only a WARNING left");
	o.min_count = 0;
	o.max_failures = 0;
	j.failures = 10;
	expect(&o, "ok", &j, BK_MON_OK,
	    "newest backup 50s old (/b/db-2.dump, 100 B)",
	    "failures not checked without max_failures");
}

static void
t_formats(void)
{
	struct bk_mon_opts o;
	struct bk_mon_journal j;
	struct bk_mon_result r;
	struct bk_err e;
	char *s;

	opts_default(&o);
	o.min_size = MiB;
	o.min_count = 7;
	o.max_failures = 3;
	memset(&j, 0, sizeof(j));
	j.runs = 20;
	j.failures = 3;
	j.last_ok = NOW - 3 * 86400;
	snprintf(j.last_error, sizeof(j.last_error), "bk-s3put: HTTP 403");
	bk_listing_free(&L);
	add(NOW - 11520, 512 * MiB, "s3://b/db/db|1.dump");
	ok(bk_mon_eval(&L, &o, NOW, NULL, &j, &r, &e) == 0, "eval");
	s = bk_mon_perfdata(&r);
	is_str(s, "'age'=11520s;90000;176400;0 'size'=536870912B;;1048576:;0 "
	    "'count'=1;7:;;0 'failures'=3;;2;0",
	    "perfdata: thresholds as ranges");
	free(s);
	s = bk_mon_format_nagios(&r, "BK-AGE", 0);
	is_str(s, "BK-AGE CRITICAL - newest backup 3h12m old "
	    "(s3://b/db/db%7C1.dump, 512 MiB); only 1 backup (min 7); "
	    "3 consecutive failed runs (max 3) | 'age'=11520s;90000;176400;0 "
	    "'size'=536870912B;;1048576:;0 'count'=1;7:;;0 'failures'=3;;2;0\n",
	    "plugin line; '|' in the text escaped");
	free(s);
	s = bk_mon_format_nagios(&r, "BK-AGE", 1);
	ok(s != NULL && strstr(s, "\nobjects: 1 listed, 1 matching, 1 backup\n"
	    "newest backup: s3://b/db/db%7C1.dump, 2026-11-20T22:48:13Z, "
	    "536870912 bytes\njournal: 20 runs, 3 consecutive failures, last "
	    "ok 2026-11-18T02:00:13Z, last error: bk-s3put: HTTP 403\n"
	    "thresholds: warning 1d1h, critical 2d1h, min size 1 MiB, min "
	    "count 7\n") != NULL && s[strlen(s) - 1] == '\n',
	    "-v: detail lines after the first");
	free(s);
	s = bk_mon_format_json(&r);
	is_str(s, "{\"state\":\"CRITICAL\",\"exit\":2,\"summary\":\"newest "
	    "backup 3h12m old (s3://b/db/db|1.dump, 512 MiB); only 1 backup "
	    "(min 7); 3 consecutive failed runs (max 3)\",\"age_seconds\":"
	    "11520,\"newest\":{\"url\":\"s3://b/db/db|1.dump\",\"time\":"
	    "\"2026-11-20T22:48:13Z\",\"size\":536870912},\"newest_object\":"
	    "{\"url\":\"s3://b/db/db|1.dump\",\"time\":\"2026-11-20T22:48:13Z\","
	    "\"size\":536870912},\"count\":1,\"matched\":1,\"objects\":1,"
	    "\"seal\":null,\"journal\":{\"runs\":20,\"consecutive_failures\":3},"
	    "\"problems\":[\"only 1 backup (min 7)\",\"3 consecutive failed "
	    "runs (max 3)\"]}\n", "JSON");
	free(s);
	s = bk_mon_format_prom(&r, "s3://b/db/");
	is_str(s,
	    "# HELP bk_backup_last_success_timestamp_seconds Modification "
	    "time of the newest backup (of at least the minimum size), in "
	    "seconds since the epoch; 0 if there is none.\n"
	    "# TYPE bk_backup_last_success_timestamp_seconds gauge\n"
	    "bk_backup_last_success_timestamp_seconds{location=\"s3://b/db/\"} "
	    "1795214893\n"
	    "# HELP bk_backup_last_size_bytes Size of the newest backup in "
	    "bytes; 0 if there is none.\n"
	    "# TYPE bk_backup_last_size_bytes gauge\n"
	    "bk_backup_last_size_bytes{location=\"s3://b/db/\"} 536870912\n"
	    "# HELP bk_backup_count Number of backups (matching objects of at "
	    "least the minimum size).\n"
	    "# TYPE bk_backup_count gauge\n"
	    "bk_backup_count{location=\"s3://b/db/\"} 1\n"
	    "# HELP bk_backup_age_seconds Age of the newest backup when bk-age "
	    "ran, in seconds; NaN if there is none.\n"
	    "# TYPE bk_backup_age_seconds gauge\n"
	    "bk_backup_age_seconds{location=\"s3://b/db/\"} 11520\n"
	    "# HELP bk_backup_consecutive_failures Failed backup runs in a row "
	    "at the end of the journal.\n"
	    "# TYPE bk_backup_consecutive_failures gauge\n"
	    "bk_backup_consecutive_failures{location=\"s3://b/db/\"} 3\n"
	    "# HELP bk_backup_check_state State of the bk-age check: 0 OK, 1 "
	    "WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
	    "# TYPE bk_backup_check_state gauge\n"
	    "bk_backup_check_state{location=\"s3://b/db/\"} 2\n"
	    "# HELP bk_backup_check_timestamp_seconds When bk-age ran, in "
	    "seconds since the epoch.\n"
	    "# TYPE bk_backup_check_timestamp_seconds gauge\n"
	    "bk_backup_check_timestamp_seconds{location=\"s3://b/db/\"} "
	    "1795226413\n", "Prometheus text, exact");
	free(s);
	s = bk_mon_format_prom(&r, "a\\b\"c\nd\xff" "e\xc3\xa9");
	ok(s != NULL && strstr(s, "{location=\"a\\\\b\\\"c\\nd\xef\xbf\xbd"
	    "e\xc3\xa9\"} 2\n") != NULL, "Prometheus label escaping");
	free(s);
	bk_mon_result_free(&r);

	/* No backup: the timestamp 0 makes an age alert fire; age NaN. */
	bk_listing_free(&L);
	opts_default(&o);
	ok(bk_mon_eval(&L, &o, NOW, NULL, NULL, &r, &e) == 0, "eval empty");
	s = bk_mon_format_prom(&r, "/b/");
	ok(s != NULL && strstr(s, "\nbk_backup_last_success_timestamp_seconds"
	    "{location=\"/b/\"} 0\n") && strstr(s, "\nbk_backup_age_seconds"
	    "{location=\"/b/\"} NaN\n") && strstr(s, "\nbk_backup_count"
	    "{location=\"/b/\"} 0\n") && strstr(s, "\nbk_backup_check_state"
	    "{location=\"/b/\"} 2\n") && !strstr(s, "consecutive"),
	    "Prometheus without a backup");
	free(s);
	s = bk_mon_format_json(&r);
	is_str(s, "{\"state\":\"CRITICAL\",\"exit\":2,\"summary\":\"no backup "
	    "found\",\"age_seconds\":null,\"newest\":null,\"newest_object\":"
	    "null,\"count\":0,\"matched\":0,\"objects\":0,\"seal\":null,"
	    "\"journal\":null,\"problems\":[\"no backup found\"]}\n",
	    "JSON without a backup");
	free(s);
	s = bk_mon_format_nagios(&r, "BK-AGE", 0);
	is_str(s, "BK-AGE CRITICAL - no backup found | 'age'=U;90000;176400;0 "
	    "'size'=U;;;0 'count'=0;;;0\n", "plugin line without a backup");
	free(s);
	bk_mon_result_free(&r);

	/* JSON escaping of what a URL may hold. */
	add(NOW, 5, "/b/q\"b\\s\tt\x01" "c\xff" "d\xc3\xa9" "e\xed\xa0\x80");
	ok(bk_mon_eval(&L, &o, NOW, NULL, NULL, &r, &e) == 0, "eval odd URL");
	s = bk_mon_format_json(&r);
	ok(s != NULL && strstr(s, "\"newest\":{\"url\":\"/b/q\\\"b\\\\s\\tt"
	    "\\u0001c\\ufffdd\xc3\xa9" "e\\ufffd\\ufffd\\ufffd\",") != NULL,
	    "JSON escaping: quote, backslash, controls, bad UTF-8");
	free(s);
	s = bk_mon_format_nagios(&r, "BK-AGE", 0);
	ok(s != NULL && strncmp(s, "BK-AGE OK - newest backup 0s old "
	    "(/b/q\"b\\s?t?c", 46) == 0 && strchr(s, '\t') == NULL &&
	    strchr(s, '\n') == s + strlen(s) - 1,
	    "plugin line: control characters as '?', one line");
	free(s);
	bk_mon_result_free(&r);

	/* A check that could not be made. */
	bk_mon_unknown(&r, NOW, "s3://b/: HTTP 403 AccessDenied | \"x\"");
	s = bk_mon_format_nagios(&r, "BK-AGE", 1);
	is_str(s, "BK-AGE UNKNOWN - s3://b/: HTTP 403 AccessDenied %7C \"x\"\n",
	    "UNKNOWN plugin line: no perfdata, no details");
	free(s);
	s = bk_mon_perfdata(&r);
	is_str(s, "", "UNKNOWN: no perfdata");
	free(s);
	s = bk_mon_format_json(&r);
	is_str(s, "{\"state\":\"UNKNOWN\",\"exit\":3,\"summary\":\"s3://b/: "
	    "HTTP 403 AccessDenied | \\\"x\\\"\",\"age_seconds\":null,"
	    "\"newest\":null,\"newest_object\":null,\"count\":null,"
	    "\"matched\":null,\"objects\":null,\"seal\":null,\"journal\":null,"
	    "\"problems\":[\"s3://b/: HTTP 403 AccessDenied | \\\"x\\\"\"]}\n",
	    "UNKNOWN JSON");
	free(s);
	s = bk_mon_format_prom(&r, "s3://b/");
	is_str(s,
	    "# HELP bk_backup_check_state State of the bk-age check: 0 OK, 1 "
	    "WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
	    "# TYPE bk_backup_check_state gauge\n"
	    "bk_backup_check_state{location=\"s3://b/\"} 3\n"
	    "# HELP bk_backup_check_timestamp_seconds When bk-age ran, in "
	    "seconds since the epoch.\n"
	    "# TYPE bk_backup_check_timestamp_seconds gauge\n"
	    "bk_backup_check_timestamp_seconds{location=\"s3://b/\"} "
	    "1795226413\n", "UNKNOWN Prometheus text: the state only");
	free(s);
	bk_mon_result_free(&r);
}

/* Entries of dir other than . and .. */
static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
t_write_file(void)
{
	char dir[512], path[600], buf[64];
	struct bk_err e;
	struct stat st;
	mode_t old;
	int fd;
	ssize_t n;

	snprintf(dir, sizeof(dir), "%s/prom", tap_tmpdir());
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/bk.prom", dir);
	old = umask(077);
	ok(bk_mon_write_file(path, "one\n", &e) == 0, "write a textfile");
	ok(bk_mon_write_file(path, "two 2\n", &e) == 0, "replace it");
	umask(old);
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	is_str(buf, "two 2\n", "the file holds the new text");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644,
	    "mode 0644 whatever the umask (the exporter reads it)");
	is_int(entries(dir), 1, "no temporary file left");
	snprintf(path, sizeof(path), "%s/missing/bk.prom", dir);
	ok(bk_mon_write_file(path, "x\n", &e) < 0 && e.code == BK_EXIT_RUNTIME,
	    "a missing directory fails: %s", e.msg);
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0755);
	ok(bk_mon_write_file(path, "x\n", &e) < 0, "a directory in the way "
	    "fails: %s", e.msg);
	is_int(entries(dir), 2, "... and leaves no temporary file");
}

/* --- the journal ---------------------------------------------------------- */

static void
jline_ok(const char *line, const char *tool, const char *outcome,
    const char *dest, long long t, const char *what)
{
	char buf[4096];
	struct bk_mon_jrec rec;
	struct bk_err e;
	int rc;

	bk_err_clear(&e);
	rc = bk_mon_journal_line(line, strlen(line), 7, buf, sizeof(buf),
	    &rec, &e);
	if (!ok(rc == 0 && strcmp(rec.tool, tool) == 0 &&
	    strcmp(rec.outcome, outcome) == 0 && (dest == NULL ?
	    rec.destination == NULL : rec.destination != NULL &&
	    strcmp(rec.destination, dest) == 0) && (long long)rec.time == t,
	    "journal line: %s", what))
		diag("  rc %d: %s", rc, e.msg);
}

static void
jline_bad(const char *line, size_t len, const char *want, const char *what)
{
	char buf[4096];
	struct bk_mon_jrec rec;
	struct bk_err e;
	int rc;

	bk_err_clear(&e);
	rc = bk_mon_journal_line(line, len, 7, buf, sizeof(buf), &rec, &e);
	if (!ok(rc < 0 && e.code == BK_EXIT_CHECK &&
	    strncmp(e.msg, "line 7: ", 8) == 0 && strstr(e.msg, want) != NULL,
	    "broken journal line: %s", what))
		diag("  rc %d: \"%s\", want \"%s\"", rc, e.msg, want);
}

#define BAD(s, want, what) jline_bad(s, sizeof(s) - 1, want, what)

static void
t_journal_lines(void)
{
	char deep[400];
	size_t i;

	jline_ok("{\"time\":\"2026-11-21T02:00:13Z\",\"tool\":\"bk-s3put\","
	    "\"outcome\":\"ok\",\"exit\":0,\"bytes_in\":5,\"bytes_out\":5,"
	    "\"seconds\":0.012,\"seal\":\"ok\",\"destination\":\"s3://b/db/x\","
	    "\"sha256\":null,\"error\":null}", "bk-s3put", "ok",
	    "s3://b/db/x", 1795226413LL, "what bk_journal_format() writes");
	jline_ok("  {\"outcome\" : \"failed\", \"future\": {\"a\": [1, -2.5e+3, "
	    "true, false, null, {\"b\": [[]]}, \"\\u00e9\\ud83d\\ude00\\/\"]}, "
	    "\"tool\":\"bk-s3put\", \"n\": -0.0E-1, \"e\": {}, \"x\": []}  ",
	    "bk-s3put", "failed", NULL, 0, "unknown members of every kind");
	jline_ok("{\"tool\":\"b\\u006b-s3put\",\"outcome\":\"ok\","
	    "\"destination\":\"/b/\\u00e9\\t\",\"time\":\"2026-11-21T02:00:13Z\","
	    "\"tool\":\"bk-s3put\"}", "bk-s3put", "ok", "/b/\xc3\xa9\t",
	    1795226413LL, "escapes decoded");
	jline_ok("{\"tool\":\"t\",\"outcome\":\"ok\",\"destination\":\"\\ud800"
	    "x\"}", "t", "ok", "\xef\xbf\xbdx", 0, "a lone surrogate is U+FFFD");
	jline_ok("{\"tool\":\"t\",\"outcome\":\"x\",\"destination\":\"/b/\xff\"}",
	    "t", "x", "/b/\xff", 0, "raw bytes the journal writer passes");

	BAD("", "blank line", "empty");
	BAD("[1]", "not a JSON object", "an array");
	BAD("{\"tool\":\"t\"}", "no \"outcome\"", "no outcome");
	BAD("{\"outcome\":\"ok\"}", "no \"tool\"", "no tool");
	BAD("{\"tool\":1,\"outcome\":\"ok\"}", "\"tool\" is not",
	    "tool a number");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\",\"destination\":3}",
	    "not a string or null", "destination a number");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\",\"time\":null}",
	    "\"time\" is null", "time null");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\",\"time\":\"yesterday\"}",
	    "time", "time not a time");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\"} x",
	    "text after the object", "trailing garbage");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\",}",
	    "expected a member name", "trailing comma");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\"", "cut short",
	    "unterminated object");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok", "unterminated string",
	    "unterminated string");
	BAD("{\"tool\":\"t\",\"outcome\":\"o\tk\"}",
	    "control character", "raw tab in a string");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\",\"n\":01}",
	    "expected ',' or '}'", "a leading zero");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\",\"n\":1.}",
	    "bad number", "1.");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\",\"n\":tru}",
	    "not a JSON value", "tru");
	BAD("{\"tool\":\"t\",\"outcome\":\"\\x\"}", "bad escape",
	    "\\x");
	BAD("{\"tool\":\"t\",\"outcome\":\"\\u12g4\"}", "bad \\u",
	    "\\u12g4");
	BAD("{\"tool\":\"t\\u0000\",\"outcome\":\"ok\"}", "NUL",
	    "an escaped NUL in a kept string");
	BAD("{\"tool\":\"t\",\"outcome\":\"ok\"}\0", "text after",
	    "a NUL byte");
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"tool\":\"t\",\"outcome\":\"ok\",\"d\":");
	for (i = strlen(deep); i < 300; i++)
		deep[i] = '[';
	jline_bad(deep, strlen(deep), "nested too deep", "nested 270 deep");
}

/* A journal file with text; its descriptor. */
static int
jfile(const char *name, const char *text)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tap_tmpdir(), name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		diag("jfile %s failed", path);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

#define J(t, tool, outcome, dest) "{\"time\":\"2026-11-21T0" t ":00:00Z\"," \
	"\"tool\":\"" tool "\",\"outcome\":\"" outcome "\",\"destination\":" \
	dest ",\"error\":null,\"extra\":[1]}\n"

static void
t_journal_read(void)
{
	struct bk_mon_journal j;
	struct bk_err e;
	int fd, rc;

	fd = jfile("j1",
	    J("0", "bk-s3put", "ok", "\"s3://b/db/x-0\"")
	    J("1", "bk-s3put", "failed", "\"s3://b/db/x-1\"")
	    J("2", "bk-gz", "failed", "null")
	    J("3", "bk-s3put", "upstream-failed", "\"s3://b/db/x-3\"")
	    J("4", "bk-s3put", "ok", "\"s3://b/other/x\"")
	    J("5", "bk-s3put", "failed", "\"s3://b/db/x-5\""));
	rc = bk_mon_journal_read(fd, "j1", "bk-s3put", "s3://b/db/", &j, &e);
	close(fd);
	ok(rc == 0 && j.records == 6 && j.runs == 4 && j.failures == 3 &&
	    j.last_ok == 1795219200 && j.last_run == 1795237200,
	    "failures at the end: 3 (other tools and destinations left out)");
	if (rc < 0)
		diag("  %s", e.msg);
	is_str(j.last_error, "failed", "last error: the outcome without a "
	    "message");

	fd = jfile("j2",
	    J("0", "bk-s3put", "failed", "\"s3://b/db/x\"")
	    J("1", "bk-s3put", "failed", "\"s3://b/db/x\"")
	    J("2", "bk-s3put", "ok", "\"s3://b/db/x\""));
	rc = bk_mon_journal_read(fd, "j2", "bk-s3put", "s3://b/db/", &j, &e);
	close(fd);
	ok(rc == 0 && j.runs == 3 && j.failures == 0 &&
	    j.last_ok == 1795226400, "failures in the middle: 0");

	fd = jfile("j3",
	    J("0", "bk-s3put", "ok", "\"/srv/bk/db/x\"")
	    J("1", "bk-s3put", "failed", "\"file:///srv/bk/db/y\"")
	    J("2", "bk-s3put", "failed", "\"/srv/bk/db2/y\""));
	rc = bk_mon_journal_read(fd, "j3", "bk-s3put", "file:///srv/bk/db/",
	    &j, &e);
	ok(rc == 0 && j.runs == 2 && j.failures == 1,
	    "file:// and plain paths compare as paths");
	lseek(fd, 0, SEEK_SET);
	rc = bk_mon_journal_read(fd, "j3", NULL, NULL, &j, &e);
	close(fd);
	ok(rc == 0 && j.runs == 3 && j.failures == 2, "no filter: every run");

	fd = jfile("j4", "");
	rc = bk_mon_journal_read(fd, "j4", "bk-s3put", NULL, &j, &e);
	close(fd);
	ok(rc == 0 && j.records == 0 && j.runs == 0 && j.failures == 0,
	    "an empty journal: no runs");

	fd = jfile("j5", J("0", "bk-s3put", "failed", "null")
	    "{\"tool\":\"bk-s3put\",\"outcome\":\"ok\"");
	rc = bk_mon_journal_read(fd, "j5", "bk-s3put", NULL, &j, &e);
	close(fd);
	ok(rc < 0 && e.code == BK_EXIT_CHECK && strcmp(e.msg, "j5: line 2: no "
	    "newline at the end (cut short)") == 0, "a last line cut short: %s",
	    e.msg);

	fd = jfile("j6", J("0", "bk-s3put", "failed", "null") "not json\n"
	    J("1", "bk-s3put", "ok", "null"));
	rc = bk_mon_journal_read(fd, "j6", "bk-s3put", NULL, &j, &e);
	close(fd);
	ok(rc < 0 && e.code == BK_EXIT_CHECK && strncmp(e.msg, "j6: line 2: "
	    "not a JSON object", 29) == 0, "a broken line: %s", e.msg);

	fd = jfile("j7", J("0", "bk-s3put", "ok", "null") "\n");
	rc = bk_mon_journal_read(fd, "j7", "bk-s3put", NULL, &j, &e);
	close(fd);
	ok(rc < 0 && strstr(e.msg, "line 2: blank line") != NULL,
	    "a blank line: %s", e.msg);

	{
		char *big = malloc(BK_MON_JOURNAL_LINEMAX + 16);

		memset(big, 'x', BK_MON_JOURNAL_LINEMAX + 8);
		big[BK_MON_JOURNAL_LINEMAX + 8] = '\n';
		big[BK_MON_JOURNAL_LINEMAX + 9] = '\0';
		fd = jfile("j8", big);
		free(big);
		rc = bk_mon_journal_read(fd, "j8", "bk-s3put", NULL, &j, &e);
		close(fd);
		ok(rc < 0 && strstr(e.msg, "line 1: longer than") != NULL,
		    "a line too long: %s", e.msg);
	}
}

static void
t_dest_match(void)
{
	ok(bk_mon_dest_match(NULL, NULL) && bk_mon_dest_match(NULL, "x"),
	    "no prefix: everything");
	ok(!bk_mon_dest_match("s3://b/", NULL), "no destination: no match");
	ok(bk_mon_dest_match("s3://b/db", "s3://b/db-2/x"),
	    "a prefix as S3 has it");
	ok(!bk_mon_dest_match("s3://b/db/", "s3://c/db/x") &&
	    !bk_mon_dest_match("s3://b/db/", "/b/db/x"),
	    "another bucket, a path");
	ok(bk_mon_dest_match("/srv/bk/", "file:///srv/bk/x") &&
	    bk_mon_dest_match("file:///srv/b%20k/", "/srv/b k/x"),
	    "file:// URLs and paths");
	ok(!bk_mon_dest_match("/srv/bk/", "/srv/other"), "another path");
}

int
main(void)
{
	plan(0);
	bk_listing_init(&L);
	t_states();
	t_boundaries();
	t_none();
	t_tiny();
	t_pick();
	t_seal();
	t_worst();
	t_formats();
	t_write_file();
	t_journal_lines();
	t_journal_read();
	t_dest_match();
	bk_listing_free(&L);
	return done_testing();
}
