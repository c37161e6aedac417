/*
 * bk-age - a monitoring plugin: is the newest backup under a location
 * (or in a listing on stdin) recent, big enough, sealed, and are the
 * backup runs succeeding?  Nagios line, JSON or a Prometheus textfile.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws.h"
#include "bk.h"
#include "fsstore.h"
#include "listing.h"
#include "monitor.h"
#include "s3.h"
#include "s3put.h"

#define PREFIX		"BK-AGE"

static const char usage[] =
    "bk-age [-hqvV] [-w duration] [-c duration] [-t duration] "
    "[--min-size size]\n"
    "              [--min-count n] [--match glob] [--require-sealed]\n"
    "              [--journal file [--max-failures n] [--journal-tool name]\n"
    "              [--journal-destination prefix]] [--json] "
    "[--prometheus file]\n"
    "              [S3 options] location | -";

enum {
	OPT_JOURNAL = 0x100, OPT_JDEST, OPT_JTOOL, OPT_JSON, OPT_MATCH,
	OPT_MAXFAIL, OPT_MINCOUNT, OPT_MINSIZE, OPT_PROM, OPT_SEALED
};

struct args {
	struct bk_aws_opts	 aws;
	struct bk_mon_opts	 mon;
	const char		*loc;
	const char		*journal;
	const char		*jdest;
	const char		*jtool;
	const char		*prom;
	uint64_t		 timeout;
	int			 json;
	int			 stdin_list;
};

/* What the SIGALRM handler writes: prepared before the alarm is set,
 * since a handler may only make async-signal-safe calls. */
static char		*alarm_out;
static char		*alarm_prom;
static char		 alarm_tmp[4096];
static char		 alarm_path[4096];

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Check the newest backup under location (s3://bucket/prefix, "
	    "file:///dir/ or a\npath prefix; - : a bk-s3ls listing on "
	    "stdin) as a Nagios/Icinga plugin.\nExit 0 OK, 1 WARNING, "
	    "2 CRITICAL, 3 UNKNOWN.\n\n"
	    "  -c, --critical DURATION      CRITICAL when older (default "
	    "49h)\n"
	    "  -h, --help                   this help\n"
	    "      --journal FILE           count failed runs in a "
	    "BK_JOURNAL file\n"
	    "      --journal-destination P  runs to destinations under P "
	    "(default: location;\n"
	    "                               \"\": any)\n"
	    "      --journal-tool NAME      runs of NAME (default "
	    "bk-s3put)\n"
	    "      --json                   one JSON object instead of the "
	    "plugin line\n"
	    "      --match GLOB             only names matching GLOB are "
	    "backups\n"
	    "      --max-failures N         CRITICAL after N failed runs in "
	    "a row (default 1)\n"
	    "      --min-count N            WARNING with fewer than N "
	    "backups\n"
	    "      --min-size SIZE          smaller is a failed backup "
	    "(default 1 byte)\n"
	    "      --prometheus FILE        also write a node_exporter "
	    "textfile\n"
	    "  -q, --quiet                  no warnings\n"
	    "      --require-sealed         CRITICAL unless the newest was "
	    "stored sealed\n"
	    "  -t, --timeout DURATION       UNKNOWN after DURATION (default "
	    "30s; 0: none)\n"
	    "  -v, --verbose                detail lines after the first\n"
	    "  -V, --version                print the version\n"
	    "  -w, --warning DURATION       WARNING when older (default "
	    "25h)\n"
	    BK_AWS_HELP, usage);
}

static int
parse(int argc, char **argv, struct args *a, struct bk_err *err)
{
	static const struct option longopts[] = {
		{ "critical",		required_argument, NULL, 'c' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "journal",		required_argument, NULL, OPT_JOURNAL },
		{ "journal-destination", required_argument, NULL, OPT_JDEST },
		{ "journal-tool",	required_argument, NULL, OPT_JTOOL },
		{ "json",		no_argument,	   NULL, OPT_JSON },
		{ "match",		required_argument, NULL, OPT_MATCH },
		{ "max-failures",	required_argument, NULL, OPT_MAXFAIL },
		{ "min-count",		required_argument, NULL, OPT_MINCOUNT },
		{ "min-size",		required_argument, NULL, OPT_MINSIZE },
		{ "prometheus",		required_argument, NULL, OPT_PROM },
		{ "quiet",		no_argument,	   NULL, 'q' },
		{ "require-sealed",	no_argument,	   NULL, OPT_SEALED },
		{ "timeout",		required_argument, NULL, 't' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ "warning",		required_argument, NULL, 'w' },
		BK_AWS_LONGOPTS,
		{ NULL,			0,		   NULL, 0 }
	};
	const uint64_t cent = 100ULL * 366 * 86400;
	char w[32], c2[32];
	int c, r = 0, maxfail = 0;

	while ((c = getopt_long(argc, argv, ":c:hqt:vVw:", longopts,
	    NULL)) != -1) {
		if (bk_aws_getopt(&a->aws, c, optarg))
			continue;
		switch (c) {
		case 'c':
			r = bk_parse_duration("--critical", optarg, 0, cent,
			    &a->mon.critical, err);
			break;
		case 'h':
			help();
			return 1;
		case 'q':
			bk_verbose = -1;
			break;
		case 't':
			r = bk_parse_duration("--timeout", optarg, 0, 86400,
			    &a->timeout, err);
			break;
		case 'v':
			bk_verbose++;
			break;
		case 'V':
			bk_cli_version();
			return 1;
		case 'w':
			r = bk_parse_duration("--warning", optarg, 0, cent,
			    &a->mon.warning, err);
			break;
		case OPT_JOURNAL:
			a->journal = optarg;
			break;
		case OPT_JDEST:
			a->jdest = optarg;
			break;
		case OPT_JTOOL:
			if (*optarg == '\0')
				return bk_err_set(err, BK_EXIT_USAGE,
				    "--journal-tool: empty name");
			a->jtool = optarg;
			break;
		case OPT_JSON:
			a->json = 1;
			break;
		case OPT_MATCH:
			a->mon.match = optarg;
			break;
		case OPT_MAXFAIL:
			r = bk_parse_uint("--max-failures", optarg, 1, 1000000,
			    &a->mon.max_failures, err);
			maxfail = 1;
			break;
		case OPT_MINCOUNT:
			r = bk_parse_uint("--min-count", optarg, 0, 100000000,
			    &a->mon.min_count, err);
			break;
		case OPT_MINSIZE:
			r = bk_parse_size("--min-size", optarg, 0, UINT64_MAX,
			    &a->mon.min_size, err);
			break;
		case OPT_PROM:
			if (*optarg == '\0')
				return bk_err_set(err, BK_EXIT_USAGE,
				    "--prometheus: empty file name");
			a->prom = optarg;
			break;
		case OPT_SEALED:
			a->mon.require_sealed = 1;
			break;
		default:
			return bk_cli_badopt(c, argv, err);
		}
		if (r < 0)
			return -1;
	}
	if (optind + 1 != argc)
		return bk_err_set(err, BK_EXIT_USAGE, optind == argc ?
		    "no location: give s3://bucket/prefix, file:///dir/, a "
		    "path or - for a listing on stdin" : "one location only");
	a->loc = argv[optind];
	a->stdin_list = strcmp(a->loc, "-") == 0;
	if (a->mon.warning > a->mon.critical)
		return bk_err_set(err, BK_EXIT_USAGE, "--warning %s is over "
		    "--critical %s", bk_fmt_duration(w, sizeof(w),
		    a->mon.warning), bk_fmt_duration(c2, sizeof(c2),
		    a->mon.critical));
	if (a->stdin_list && a->mon.require_sealed)
		return bk_err_set(err, BK_EXIT_USAGE, "--require-sealed needs "
		    "a location: a listing on stdin says nothing of seals");
	if (a->journal == NULL && (maxfail || a->jdest || a->jtool))
		return bk_err_set(err, BK_EXIT_USAGE, "--max-failures, "
		    "--journal-tool and --journal-destination need --journal");
	if (a->journal != NULL && !maxfail)
		a->mon.max_failures = 1;
	if (a->jdest == NULL && !a->stdin_list)
		a->jdest = a->loc;
	else if (a->jdest != NULL && *a->jdest == '\0')
		a->jdest = NULL;	/* "": runs to anywhere, or nowhere */
	if (a->jtool == NULL)
		a->jtool = "bk-s3put";
	return 0;
}

/* --- the storage ---------------------------------------------------------- */

struct lister {
	struct bk_listing	*l;
	const char		*bucket;
};

static int
on_s3(void *arg, const struct bk_s3_obj *o, struct bk_err *err)
{
	struct lister *ls = arg;
	char *url;
	int rc;

	if (asprintf(&url, "s3://%s/%s", ls->bucket, o->key) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "listing");
	rc = bk_listing_add(ls->l, o->mtime, o->size, url, err);
	free(url);
	return rc;
}

static int
on_fs(void *arg, const char *path, uint64_t size, time_t mtime,
    struct bk_err *err)
{
	struct lister *ls = arg;

	return bk_listing_add(ls->l, mtime, size, path, err);
}

/* The seal recorded with an S3 object: its own metadata (a single PUT),
 * else that of its KEY.sha256 record (multipart). */
static int
seal_s3(struct bk_s3 *c, const char *url, char *seal, size_t size,
    struct bk_err *err)
{
	struct bk_s3_loc l;
	struct bk_s3_resp r;
	const char *v;
	char *rkey = NULL;
	int rc = -1;

	if (bk_s3_loc_parse(&l, url, err) < 0)
		return -1;
	memset(&r, 0, sizeof(r));
	if (bk_s3_head(c, l.bucket, l.key, &r, err) < 0)
		goto out;
	if (r.status == 404) {
		bk_err_set(err, BK_EXIT_RUNTIME, "%s: gone since it was "
		    "listed", url);
		goto out;
	}
	if ((v = bk_s3_meta_get(&r, "bk-seal")) == NULL) {
		if (asprintf(&rkey, "%s%s", l.key, BK_S3PUT_RECORD) < 0) {
			rkey = NULL;
			bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", url);
			goto out;
		}
		bk_s3_resp_free(&r);
		if (bk_s3_head(c, l.bucket, rkey, &r, err) < 0)
			goto out;
		v = r.status == 200 ? bk_s3_meta_get(&r, "bk-record-seal") :
		    NULL;
	}
	snprintf(seal, size, "%s", v != NULL ? v : "");
	rc = 0;
out:
	free(rkey);
	bk_s3_resp_free(&r);
	bk_s3_loc_free(&l);
	return rc;
}

/*
 * List the location into l and, when asked, find the seal of the newest
 * backup under o.  One connection does both.
 */
static int
survey(const struct args *a, struct bk_listing *l,
    const struct bk_listing_obj **newest, char *seal, size_t size,
    struct bk_err *err)
{
	struct lister ls = { l, NULL };
	struct bk_fs_meta m;
	struct bk_aws aws;
	struct bk_s3_loc loc;
	struct bk_s3 c;
	char *path;
	int rc = -1;

	if (strncmp(a->loc, "s3://", 5) != 0) {
		if (bk_fs_path(a->loc, &path, err) < 0)
			return -1;
		rc = bk_fs_list(path, on_fs, &ls, err);
		free(path);
		if (rc < 0 || bk_mon_newest(l, &a->mon, newest, err) < 0)
			return -1;
		if (!a->mon.require_sealed || *newest == NULL)
			return 0;
		if (bk_fs_stat((*newest)->url, &m, err) < 0)
			return -1;
		snprintf(seal, size, "%s", m.seal);
		return 0;
	}
	if (bk_s3_loc_parse(&loc, a->loc, err) < 0)
		return -1;
	ls.bucket = loc.bucket;
	if (bk_aws_load(&aws, &a->aws, err) == 0) {
		if (bk_s3_open(&c, &aws, err) == 0) {
			rc = bk_s3_list(&c, loc.bucket, loc.key, 0, on_s3, &ls,
			    err);
			if (rc == 0)
				rc = bk_mon_newest(l, &a->mon, newest, err);
			if (rc == 0 && a->mon.require_sealed && *newest != NULL)
				rc = seal_s3(&c, (*newest)->url, seal, size,
				    err);
			bk_s3_close(&c);
		}
		bk_aws_free(&aws);
	}
	bk_s3_loc_free(&loc);
	return rc;
}

/* A listing on stdin, which a failed lister upstream may have cut short. */
static int
read_stdin(struct bk_run *run, struct bk_listing *l, struct bk_err *err)
{
	enum bk_seal_state up;

	if (bk_listing_read(0, "stdin", l, err) < 0)
		return -1;
	bk_run_at_eof(run, &up, err);
	if (up == BK_SEAL_FAILED)
		return bk_err_set(err, BK_EXIT_RUNTIME, "the listing's "
		    "upstream failed: it may be incomplete");
	return 0;
}

static int
journal(const struct args *a, struct bk_mon_journal *j, struct bk_err *err)
{
	int fd, rc;

	if ((fd = open(a->journal, O_RDONLY | O_CLOEXEC)) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "journal %s",
		    a->journal);
	rc = bk_mon_journal_read(fd, a->journal, a->jtool, a->jdest, j, err);
	close(fd);
	if (rc < 0)
		bk_err_prefix(err, "journal");
	return rc;
}

/* --- output --------------------------------------------------------------- */

static void
on_alarm(int sig)
{
	size_t n, off;
	ssize_t w;
	int fd, ok = 0;

	(void)sig;
	if (alarm_prom != NULL && (fd = open(alarm_tmp, O_WRONLY | O_CREAT |
	    O_EXCL | O_CLOEXEC, 0644)) >= 0) {
		n = strlen(alarm_prom);
		for (off = 0, ok = 1; off < n; off += (size_t)w)
			if ((w = write(fd, alarm_prom + off, n - off)) <= 0) {
				ok = 0;
				break;
			}
		if (fchmod(fd, 0644) < 0 || close(fd) < 0)
			ok = 0;
		if (!ok || rename(alarm_tmp, alarm_path) < 0)
			unlink(alarm_tmp);
	}
	if (alarm_out != NULL)
		for (n = strlen(alarm_out), off = 0; off < n; off += (size_t)w)
			if ((w = write(1, alarm_out + off, n - off)) <= 0)
				break;
	_exit(BK_MON_UNKNOWN);
}

/* Prepare what a timeout prints and writes, then set the alarm. */
static void
arm(const struct args *a, time_t now)
{
	struct bk_mon_result r;
	struct sigaction sa;
	char why[64], d[32];

	if (a->timeout == 0)
		return;
	snprintf(why, sizeof(why), "timed out after %s",
	    bk_fmt_duration(d, sizeof(d), a->timeout));
	bk_mon_unknown(&r, now, why);
	alarm_out = a->json ? bk_mon_format_json(&r) :
	    bk_mon_format_nagios(&r, PREFIX, 0);
	if (a->prom != NULL && snprintf(alarm_tmp, sizeof(alarm_tmp),
	    "%s.tmp.%ld", a->prom, (long)getpid()) < (int)sizeof(alarm_tmp) &&
	    snprintf(alarm_path, sizeof(alarm_path), "%s", a->prom) <
	    (int)sizeof(alarm_path))
		alarm_prom = bk_mon_format_prom(&r, a->loc);
	bk_mon_result_free(&r);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(a->timeout > 86400 ? 86400 : (unsigned)a->timeout);
}

/*
 * Write the textfile with SIGALRM held, so that a timeout cannot leave
 * a temporary file behind or race the handler's own.
 */
static int
write_prom(const struct args *a, const struct bk_mon_result *r,
    struct bk_err *err)
{
	sigset_t set, old;
	char *text;
	int rc;

	if ((text = bk_mon_format_prom(r, a->loc)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", a->prom);
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, &old);
	rc = bk_mon_write_file(a->prom, text, err);
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(text);
	if (rc < 0)
		bk_err_prefix(err, "--prometheus");
	return rc;
}

/* Print r as the plugin line (or JSON) on stdout. */
static void
print(const struct args *a, const struct bk_mon_result *r, const char *more)
{
	char *s;

	s = a->json ? bk_mon_format_json(r) :
	    bk_mon_format_nagios(r, PREFIX, bk_verbose > 0);
	if (s == NULL)
		printf("%s UNKNOWN - out of memory\n", PREFIX);
	else
		fputs(s, stdout);
	if (more != NULL && !a->json)
		printf("usage: %s\n", more);
	free(s);
}

/*
 * The end of a run, as bk_run_end() but with the verdict already on
 * stdout and the plugin's exit status: flush and close stdout, record
 * the seal for a downstream, journal the run.
 */
static int
finish(struct bk_run *run, int code, const char *why)
{
	struct bk_journal_rec rec;
	struct bk_err e;
	int failed;

	if (fflush(stdout) != 0)
		code = BK_MON_UNKNOWN;
	failed = code == BK_MON_UNKNOWN;
	if (bk_seal_finish(&run->seal, bk_seal_pass(run->upstream, !failed),
	    &e) < 0)
		bk_warn("%s", e.msg);
	if (run->closes_stdout && bk_io_close(1, "stdout", &e) < 0)
		code = BK_MON_UNKNOWN;
	memset(&rec, 0, sizeof(rec));
	rec.time = run->started;
	rec.tool = run->tool;
	rec.outcome = code == 0 ? "ok" : "failed";
	rec.exit = code;
	rec.seconds = bk_now() - run->t0;
	rec.seal = bk_seal_name(bk_seal_pass(run->upstream, !failed));
	rec.destination = run->destination;
	rec.error = code != 0 ? why : NULL;
	if (bk_journal_env(&rec, &e) < 0)
		bk_warn("%s", e.msg);
	return code;
}

/* A check that could not be made: UNKNOWN, with why. */
static int
unknown(struct bk_run *run, const struct args *a, const struct bk_err *err,
    int write_file)
{
	struct bk_mon_result r;
	struct bk_err e;
	char why[BK_ERR_MSGMAX * 2 + 32];
	int code;

	snprintf(why, sizeof(why), "%s", err->msg);
	bk_mon_unknown(&r, time(NULL), why);
	if (write_file && a->prom != NULL && write_prom(a, &r, &e) < 0) {
		snprintf(why, sizeof(why), "%s; %s", err->msg, e.msg);
		bk_mon_result_free(&r);
		bk_mon_unknown(&r, time(NULL), why);
	}
	alarm(0);
	print(a, &r, err->code == BK_EXIT_USAGE ? usage : NULL);
	bk_mon_result_free(&r);
	code = finish(run, BK_MON_UNKNOWN, why);
	free(alarm_out);
	free(alarm_prom);
	return code;
}

int
main(int argc, char **argv)
{
	struct args a;
	struct bk_listing l;
	struct bk_mon_journal j;
	struct bk_mon_result r;
	struct bk_err err = { 0, 0, "" };
	struct bk_run run;
	const struct bk_listing_obj *newest = NULL;
	char seal[64] = "";
	time_t now;
	int rc, code;

	bk_run_start(&run, "bk-age");
	memset(&a, 0, sizeof(a));
	a.mon.warning = 25 * 3600;
	a.mon.critical = 49 * 3600;
	a.mon.min_size = 1;
	a.timeout = 30;
	bk_listing_init(&l);
	if ((rc = parse(argc, argv, &a, &err)) != 0) {
		if (rc > 0)
			return finish(&run, 0, NULL);
		return unknown(&run, &a, &err, 0);
	}
	run.destination = a.loc;
	now = time(NULL);
	arm(&a, now);
	rc = 0;
	if (a.journal != NULL)
		rc = journal(&a, &j, &err);
	if (rc == 0 && a.stdin_list)
		rc = read_stdin(&run, &l, &err);
	else if (rc == 0)
		rc = survey(&a, &l, &newest, seal, sizeof(seal), &err);
	if (rc == 0)
		rc = bk_mon_eval(&l, &a.mon, now, seal, a.journal ? &j : NULL,
		    &r, &err);
	if (rc < 0) {
		bk_listing_free(&l);
		return unknown(&run, &a, &err, 1);
	}
	if (a.prom != NULL && write_prom(&a, &r, &err) < 0) {
		bk_mon_result_free(&r);
		bk_listing_free(&l);
		return unknown(&run, &a, &err, 0);
	}
	alarm(0);
	print(&a, &r, NULL);
	code = finish(&run, (int)r.state, r.summary);
	bk_mon_result_free(&r);
	bk_listing_free(&l);
	free(alarm_out);
	free(alarm_prom);
	return code;
}
