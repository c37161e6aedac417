/*
 * bk-dump - a PostgreSQL backup to stdout: a logical dump through the
 * server-matched pg_dump, the globals, every database in one tar, or a
 * physical base backup over the replication protocol; aware of the seal.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bk.h"
#include "pg.h"

static const char usage[] =
    "bk-dump [-hPqvV] [--format custom|plain|tar] [-t table]... "
    "[-n schema]... [-T table]... [-N schema]... "
    "[--globals | --all | --physical [--checkpoint fast|spread]] "
    "[conninfo|dbname]";

enum { OPT_ALL = 256, OPT_CHECKPOINT, OPT_FORMAT, OPT_GLOBALS, OPT_PHYSICAL };

struct args {
	struct bk_pg_opts	 o;
	enum bk_progress_mode	 pmode;
	char			**select;	/* "-t", "x", ... */
	int			 modes;		/* modes given */
	int			 checkpoint;	/* --checkpoint given */
	int			 format;	/* --format given */
};

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Write a PostgreSQL backup to stdout (default: pg_dump custom "
	    "format,\nuncompressed).\n\n"
	    "      --all             globals and every database, one tar\n"
	    "      --checkpoint WHEN --physical: fast or spread (default)\n"
	    "      --format FORMAT   custom (default), plain or tar\n"
	    "      --globals         roles and tablespaces (pg_dumpall -g)\n"
	    "  -h, --help            this help\n"
	    "  -N, --exclude-schema PATTERN   passed to pg_dump\n"
	    "  -n, --schema PATTERN           passed to pg_dump\n"
	    "  -P, --progress[=WHEN] progress on stderr (auto, always, "
	    "never)\n"
	    "      --physical        base backup with WAL and manifest, one "
	    "tar\n"
	    "  -q, --quiet           no warnings\n"
	    "  -T, --exclude-table PATTERN    passed to pg_dump\n"
	    "  -t, --table PATTERN            passed to pg_dump\n"
	    "  -v, --verbose         say what is done, and a summary\n"
	    "  -V, --version         print the version\n\n"
	    "The operand is a conninfo string, a URI or a database name; "
	    "PG* variables,\n~/.pgpass and service files apply.  A password "
	    "in it is refused.\n", usage);
}

/* pg_dump's stderr lines and what the library reports. */
static void
note(void *arg, int level, const char *line)
{
	(void)arg;
	if (level == BK_PG_NOTE_WARN ? bk_verbose >= 0 : bk_verbose > 0)
		bk_msg("%s", line);
}

static int
set_format(struct bk_pg_opts *o, const char *s, struct bk_err *err)
{
	if (strcmp(s, "custom") == 0 || strcmp(s, "c") == 0)
		o->format = BK_PG_CUSTOM;
	else if (strcmp(s, "plain") == 0 || strcmp(s, "p") == 0)
		o->format = BK_PG_PLAIN;
	else if (strcmp(s, "tar") == 0 || strcmp(s, "t") == 0)
		o->format = BK_PG_TAR;
	else
		return bk_err_set(err, BK_EXIT_USAGE, "format: %s: use custom, "
		    "plain or tar", s);
	return 0;
}

/* Check what the options say together. */
static int
validate(struct args *a, int argc, char **argv, struct bk_err *err)
{
	struct bk_pg_opts *o = &a->o;

	if (a->modes > 1)
		return bk_err_set(err, BK_EXIT_USAGE, "--globals, --all and "
		    "--physical exclude each other");
	if (a->checkpoint && o->mode != BK_PG_PHYSICAL)
		return bk_err_set(err, BK_EXIT_USAGE, "--checkpoint goes with "
		    "--physical");
	if ((a->format || o->nselect > 0) && o->mode != BK_PG_LOGICAL)
		return bk_err_set(err, BK_EXIT_USAGE, "--format, -t, -n, -T and "
		    "-N are for the dump of one database");
	if (argc - optind > 1)
		return bk_err_set(err, BK_EXIT_USAGE, "%s: one database at "
		    "most", argv[optind + 1]);
	o->conninfo = optind < argc ? argv[optind] : NULL;
	if (isatty(1) && o->mode != BK_PG_GLOBALS &&
	    (o->mode != BK_PG_LOGICAL || o->format != BK_PG_PLAIN))
		return bk_err_set(err, BK_EXIT_USAGE, "refusing to write a "
		    "binary backup to a terminal (redirect stdout)");
	return 0;
}

/* Parse the command line into a: 0 go on, 1 done (help), -1 error. */
static int
parse(int argc, char **argv, struct args *a, struct bk_err *err)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, OPT_ALL },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "exclude-schema", required_argument, NULL, 'N' },
		{ "exclude-table", required_argument, NULL, 'T' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "globals", no_argument, NULL, OPT_GLOBALS },
		{ "help", no_argument, NULL, 'h' },
		{ "physical", no_argument, NULL, OPT_PHYSICAL },
		{ "progress", optional_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "schema", required_argument, NULL, 'n' },
		{ "table", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static char flag[][3] = { "-N", "-n", "-T", "-t" };
	int c;

	while ((c = getopt_long(argc, argv, ":hN:n:P::qT:t:vV", longopts,
	    NULL)) != -1) {
		switch (c) {
		case OPT_ALL:
		case OPT_GLOBALS:
		case OPT_PHYSICAL:
			a->modes++;
			a->o.mode = c == OPT_ALL ? BK_PG_ALL : c == OPT_GLOBALS ?
			    BK_PG_GLOBALS : BK_PG_PHYSICAL;
			break;
		case OPT_CHECKPOINT:
			a->checkpoint = 1;
			if (strcmp(optarg, "fast") != 0 &&
			    strcmp(optarg, "spread") != 0)
				return bk_err_set(err, BK_EXIT_USAGE,
				    "checkpoint: %s: use fast or spread",
				    optarg);
			a->o.fast = strcmp(optarg, "fast") == 0;
			break;
		case OPT_FORMAT:
			a->format = 1;
			if (set_format(&a->o, optarg, err) < 0)
				return -1;
			break;
		case 'N': case 'n': case 'T': case 't':
			a->select[a->o.nselect++] = flag[c == 'N' ? 0 :
			    c == 'n' ? 1 : c == 'T' ? 2 : 3];
			a->select[a->o.nselect++] = optarg;
			break;
		case 'h':
			help();
			return 1;
		case 'P':
			if (bk_progress_parse(optarg, &a->pmode) < 0)
				return bk_err_set(err, BK_EXIT_USAGE,
				    "progress: %s: use auto, always or never",
				    optarg);
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
		default:
			return bk_cli_badopt(c, argv, err);
		}
	}
	return validate(a, argc, argv, err);
}

static void
summary(const struct args *a, const struct bk_pg_stats *st, double secs)
{
	static const char *what[] = { "dump", "globals", "dumps", "backup" };
	char size[32], sv[32];

	bk_fmt_size(size, sizeof(size), st->bytes_out);
	bk_info("%s of PostgreSQL %s: %s in %.2f s", what[a->o.mode],
	    bk_pg_version_fmt(sv, sizeof(sv), st->server_version, 0), size,
	    secs);
}

int
main(int argc, char **argv)
{
	struct bk_progress progress;
	struct bk_pg_stats st;
	struct bk_err err = { 0, 0, "" };
	struct bk_run run;
	struct args a;
	int rc;

	bk_run_start(&run, "bk-dump");
	memset(&a, 0, sizeof(a));
	bk_pg_opts_init(&a.o);
	if ((a.o.select = a.select = calloc((size_t)argc * 2 + 1,
	    sizeof(char *))) == NULL) {
		bk_err_sys(&err, BK_EXIT_RUNTIME, errno, "memory");
		return bk_run_end(&run, &err);
	}
	if ((rc = parse(argc, argv, &a, &err)) != 0) {
		free(a.select);
		run.closes_stdout = rc < 0;
		run.usage = usage;
		return bk_run_end(&run, rc < 0 ? &err : NULL);
	}
	bk_progress_init(&progress, 2, a.pmode, 0);
	a.o.progress = &progress;
	a.o.note = note;
	a.o.bindir = getenv("BK_PG_BINDIR");
	rc = bk_pg_backup(&a.o, &st, &err);
	bk_progress_end(&progress);
	run.bytes_out = st.bytes_out;
	if (rc == 0)
		summary(&a, &st, bk_now() - run.t0);
	free(a.select);
	return bk_run_end(&run, rc < 0 ? &err : NULL);
}
