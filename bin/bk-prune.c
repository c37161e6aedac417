/*
 * bk-prune - apply a retention policy to the backups under a location:
 * delete what it does not keep, never the newest, never what does not
 * match; or, given a listing on stdin, say what to delete.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws.h"
#include "bk.h"
#include "listing.h"
#include "prune.h"

static const char usage[] =
    "bk-prune [-hnqvV] [--keep-last n] [--keep-hourly n] [--keep-daily n]\n"
    "                [--keep-weekly n] [--keep-monthly n] [--keep-yearly n]\n"
    "                [--keep-within duration] [--min-keep n] [--tz zone]\n"
    "                [--match glob] [--time-from-name] [--abort-incomplete "
    "age]\n"
    "                [S3 options] location | -";

enum {
	OPT_LAST = 0x100, OPT_HOURLY, OPT_DAILY, OPT_WEEKLY, OPT_MONTHLY,
	OPT_YEARLY, OPT_WITHIN, OPT_MINKEEP, OPT_TZ, OPT_MATCH, OPT_ABORT,
	OPT_NAMETIME
};

struct args {
	struct bk_aws_opts	 aws;
	struct bk_retain_policy	 p;
	const char		*match;
	const char		*loc;
	uint64_t		 abort_age;
	int			 dry;
	int			 abort;
	int			 name_time;
};

struct tally {
	size_t		 deleted;
	size_t		 failed;
	uint64_t	 bytes;
	int		 write_failed;
	struct bk_err	 werr;
};

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Delete the backups under location (s3://bucket/prefix, "
	    "file:///dir/ or a\npath prefix) that the policy does not keep.  "
	    "With - , read a listing\n(bk-s3ls's lines) on stdin and print "
	    "what to delete, deleting nothing.\n\n"
	    "      --abort-incomplete AGE  also abort multipart uploads older "
	    "than AGE\n"
	    "  -h, --help                  this help\n"
	    "      --keep-daily N          the newest backup of each of N days\n"
	    "      --keep-hourly N         ... of N hours\n"
	    "      --keep-last N           the N newest backups\n"
	    "      --keep-monthly N        ... of N months\n"
	    "      --keep-weekly N         ... of N ISO weeks\n"
	    "      --keep-within DURATION  all within DURATION of the newest\n"
	    "      --keep-yearly N         ... of N years\n"
	    "      --match GLOB            only names matching GLOB are "
	    "backups\n"
	    "      --min-keep N            never keep fewer than N\n"
	    "  -n, --dry-run               show keep/delete and why; delete "
	    "nothing\n"
	    "  -q, --quiet                 no warnings\n"
	    "      --time-from-name        a backup's time is the one in its "
	    "name\n"
	    "      --tz ZONE               count days, weeks... in ZONE "
	    "(default UTC)\n"
	    "  -v, --verbose               a summary at the end\n"
	    "  -V, --version               print the version\n"
	    BK_AWS_HELP, usage);
}

static int
count(const char *what, const char *s, unsigned *out, struct bk_err *err)
{
	uint64_t v;

	if (bk_parse_uint(what, s, 0, 1000000, &v, err) < 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
parse(int argc, char **argv, struct args *a, struct bk_err *err)
{
	static const struct option longopts[] = {
		{ "abort-incomplete",	required_argument, NULL, OPT_ABORT },
		{ "dry-run",		no_argument,	   NULL, 'n' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "keep-daily",		required_argument, NULL, OPT_DAILY },
		{ "keep-hourly",	required_argument, NULL, OPT_HOURLY },
		{ "keep-last",		required_argument, NULL, OPT_LAST },
		{ "keep-monthly",	required_argument, NULL, OPT_MONTHLY },
		{ "keep-weekly",	required_argument, NULL, OPT_WEEKLY },
		{ "keep-within",	required_argument, NULL, OPT_WITHIN },
		{ "keep-yearly",	required_argument, NULL, OPT_YEARLY },
		{ "match",		required_argument, NULL, OPT_MATCH },
		{ "min-keep",		required_argument, NULL, OPT_MINKEEP },
		{ "quiet",		no_argument,	   NULL, 'q' },
		{ "time-from-name",	no_argument,	   NULL, OPT_NAMETIME },
		{ "tz",			required_argument, NULL, OPT_TZ },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ "version",		no_argument,	   NULL, 'V' },
		BK_AWS_LONGOPTS,
		{ NULL,			0,		   NULL, 0 }
	};
	int c, r = 0;

	while ((c = getopt_long(argc, argv, ":hnqvV", longopts, NULL)) != -1) {
		if (bk_aws_getopt(&a->aws, c, optarg))
			continue;
		switch (c) {
		case 'h':
			help();
			return 1;
		case 'n':
			a->dry = 1;
			break;
		case 'q':
			bk_verbose = -1;
			break;
		case 'v':
			bk_verbose++;
			break;
		case 'V':
			bk_cli_version();
			return 1;
		case OPT_ABORT:
			r = bk_parse_duration("--abort-incomplete", optarg, 1,
			    UINT64_MAX / 2, &a->abort_age, err);
			a->abort = 1;
			break;
		case OPT_DAILY:
			r = count("--keep-daily", optarg, &a->p.keep_daily, err);
			break;
		case OPT_HOURLY:
			r = count("--keep-hourly", optarg, &a->p.keep_hourly,
			    err);
			break;
		case OPT_LAST:
			r = count("--keep-last", optarg, &a->p.keep_last, err);
			break;
		case OPT_MONTHLY:
			r = count("--keep-monthly", optarg, &a->p.keep_monthly,
			    err);
			break;
		case OPT_WEEKLY:
			r = count("--keep-weekly", optarg, &a->p.keep_weekly,
			    err);
			break;
		case OPT_WITHIN:
			r = bk_parse_duration("--keep-within", optarg, 1,
			    UINT64_MAX / 2, &a->p.keep_within, err);
			break;
		case OPT_YEARLY:
			r = count("--keep-yearly", optarg, &a->p.keep_yearly,
			    err);
			break;
		case OPT_MATCH:
			a->match = optarg;
			break;
		case OPT_MINKEEP:
			r = count("--min-keep", optarg, &a->p.min_keep, err);
			break;
		case OPT_NAMETIME:
			a->name_time = 1;
			break;
		case OPT_TZ:
			a->p.tz = optarg;
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
	if (strcmp(a->loc, "-") == 0 && a->abort)
		return bk_err_set(err, BK_EXIT_USAGE, "--abort-incomplete "
		    "needs a location, not a listing");
	return bk_retain_check_tz(a->p.tz, err);
}

/* "TIME SIZE URL" of o on stdout. */
static int
line(const struct bk_listing_obj *o, const char *verdict, const char *why,
    struct bk_err *err)
{
	char buf[BK_LISTING_LINEMAX + 1];
	int n;

	if ((n = bk_listing_format(o, buf, sizeof(buf), err)) < 0)
		return -1;
	buf[n - 1] = '\0';
	if (verdict == NULL)
		n = printf("%s\n", buf);
	else if (why != NULL && *why != '\0')
		n = printf("%-6s %s (%s)\n", verdict, buf, why);
	else
		n = printf("%-6s %s\n", verdict, buf);
	if (n < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "stdout");
	return 0;
}

static void
on_deleted(void *arg, const struct bk_listing_obj *o, int ok,
    const char *why)
{
	struct tally *t = arg;

	if (!ok) {
		bk_warn("%s: not deleted: %s", o->url, why);
		t->failed++;
		return;
	}
	t->deleted++;
	t->bytes += o->size;
	if (!t->write_failed && line(o, NULL, NULL, &t->werr) < 0)
		t->write_failed = 1;
}

static void
on_aborted(void *arg, const char *key, time_t when)
{
	char t[32];

	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", gmtime(&when));
	bk_info("%s upload of %s started %s", *(int *)arg ? "would abort" :
	    "aborted", key, t);
}

/*
 * --time-from-name: each backup's time from its name.  A backup whose
 * name holds none cannot be placed in any period: refuse, rather than
 * guess.
 */
static int
name_times(struct bk_listing *l, const char *glob, struct bk_err *err)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		const char *name = bk_prune_name(l->obj[i].url);

		if (glob != NULL && fnmatch(glob, name, 0) != 0)
			continue;
		if (bk_prune_name_time(name, &l->obj[i].time) < 0)
			return bk_err_set(err, BK_EXIT_USAGE, "%s: no time "
			    "(YYYYMMDDTHHMMSSZ) in the name; narrow --match "
			    "or drop --time-from-name", l->obj[i].url);
	}
	return 0;
}

/* Newest first: the order of the plan's ranks. */
static size_t *
by_rank(const struct bk_prune_plan *plan)
{
	size_t *o = calloc(plan->n ? plan->n : 1, sizeof(*o)), i;

	if (o != NULL)
		for (i = 0; i < plan->n; i++)
			o[plan->dec[i].rank] = i;
	return o;
}

int
main(int argc, char **argv)
{
	struct args a;
	struct bk_aws aws;
	struct bk_listing l;
	struct bk_prune_plan plan;
	struct tally t;
	struct bk_err err = { 0, 0, "" };
	struct bk_run run;
	enum bk_seal_state up;
	size_t i, *order = NULL;
	char sz[32], bytes[48] = "";
	int rc, stdin_list, aws_ok = 0;

	bk_run_start(&run, "bk-prune");
	run.usage = usage;
	memset(&a, 0, sizeof(a));
	memset(&t, 0, sizeof(t));
	memset(&plan, 0, sizeof(plan));
	bk_listing_init(&l);
	if ((rc = parse(argc, argv, &a, &err)) != 0) {
		run.closes_stdout = rc < 0;
		return bk_run_end(&run, rc < 0 ? &err : NULL);
	}
	rc = -1;
	stdin_list = strcmp(a.loc, "-") == 0;
	run.destination = a.loc;
	/* Credentials once: the environment's secret is wiped when read. */
	if (strncmp(a.loc, "s3://", 5) == 0) {
		if (bk_aws_load(&aws, &a.aws, &err) < 0)
			goto done;
		aws_ok = 1;
	}
	if (stdin_list) {
		if (bk_listing_read(0, "stdin", &l, &err) < 0)
			goto done;
		/* A listing whose lister failed may be cut short. */
		if (bk_run_at_eof(&run, &up, &err) < 0)
			goto done;
		if (up == BK_SEAL_FAILED) {
			bk_err_set(&err, BK_EXIT_UPSTREAM, "the listing's "
			    "upstream failed: nothing decided");
			goto done;
		}
	} else if (bk_prune_list(a.loc, &aws, &l, &err) < 0) {
		bk_err_prefix(&err, "listing %s (nothing deleted)", a.loc);
		goto done;
	}
	if (a.name_time && name_times(&l, a.match, &err) < 0)
		goto done;
	if (bk_prune_plan(&l, a.match, &a.p, &plan, &err) < 0)
		goto done;
	if ((order = by_rank(&plan)) == NULL) {
		bk_err_sys(&err, BK_EXIT_RUNTIME, ENOMEM, "plan");
		goto done;
	}
	if (a.dry || stdin_list) {
		for (i = 0; i < plan.n; i++) {
			size_t k = order[i];
			const struct bk_listing_obj *o = &l.obj[plan.idx[k]];

			if (a.dry && line(o, plan.dec[k].keep ? "keep" :
			    "delete", plan.dec[k].reason, &err) < 0)
				goto done;
			if (!a.dry && !plan.dec[k].keep &&
			    line(o, NULL, NULL, &err) < 0)
				goto done;
		}
	} else if (bk_prune_delete(a.loc, &aws, &l, &plan, on_deleted, &t,
	    &err) < 0) {
		goto done;
	}
	if (t.write_failed) {
		err = t.werr;
		goto done;
	}
	if (a.abort && bk_prune_abort_incomplete(a.loc, &aws, time(NULL),
	    a.abort_age, a.dry, on_aborted, &a.dry, &err) < 0)
		goto done;
	if (t.deleted > 0)
		snprintf(bytes, sizeof(bytes), " (%s)", bk_fmt_size(sz,
		    sizeof(sz), t.bytes));
	bk_info("%zu backups: %zu kept, %zu %s%s; %zu other objects left "
	    "alone", plan.n, plan.nkeep, a.dry || stdin_list ? plan.ndelete :
	    t.deleted, a.dry || stdin_list ? "to delete" : "deleted", bytes,
	    plan.nother);
	if (t.failed > 0) {
		bk_err_set(&err, BK_EXIT_RUNTIME, "%zu of %zu backups could not "
		    "be deleted (see above)", t.failed, plan.ndelete);
		goto done;
	}
	rc = 0;
done:
	if (aws_ok)
		bk_aws_free(&aws);
	free(order);
	bk_prune_plan_free(&plan);
	bk_listing_free(&l);
	return bk_run_end(&run, rc < 0 ? &err : NULL);
}
