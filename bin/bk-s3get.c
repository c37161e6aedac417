/*
 * bk-s3get - stream one S3 object or file to stdout (or atomically into a
 * file), checked against the size and SHA-256 bk-s3put recorded.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "bk.h"
#include "fsstore.h"
#include "s3.h"
#include "s3get.h"

static const char usage[] =
    "bk-s3get [-hqvV] [-o file] [-P[when]] [--latest] [S3 options] "
    "location";

struct args {
	struct bk_aws_opts	 aws;
	enum bk_progress_mode	 pmode;
	const char		*loc;
	const char		*out;
	int			 latest;
};

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Write the object or file at location (s3://bucket/key, "
	    "file:///path or\na path) to stdout, and check it against the "
	    "size and SHA-256 that\nbk-s3put recorded.\n\n"
	    "  -h, --help             this help\n"
	    "      --latest           location is a prefix: take its newest "
	    "object\n"
	    "  -o, --output FILE      write FILE atomically instead of "
	    "stdout\n"
	    "  -P, --progress[=WHEN]  progress on stderr (auto, always, "
	    "never)\n"
	    "  -q, --quiet            no warnings\n"
	    "  -v, --verbose          what it does (twice: every request)\n"
	    "  -V, --version          print the version\n"
	    BK_AWS_HELP, usage);
}

static int
parse(int argc, char **argv, struct args *a, struct bk_err *err)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,		NULL, 'h' },
		{ "latest",	no_argument,		NULL, 'l' },
		{ "output",	required_argument,	NULL, 'o' },
		{ "progress",	optional_argument,	NULL, 'P' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		BK_AWS_LONGOPTS,
		{ NULL,		0,			NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, ":ho:P::qvV", longopts, NULL)) !=
	    -1) {
		if (bk_aws_getopt(&a->aws, c, optarg))
			continue;
		switch (c) {
		case 'h':
			help();
			return 1;
		case 'l':
			a->latest = 1;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'P':
			if (bk_progress_parse(optarg, &a->pmode) < 0)
				return bk_err_set(err, BK_EXIT_USAGE, "progress: "
				    "%s: use auto, always or never", optarg);
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
	if (optind + 1 != argc)
		return bk_err_set(err, BK_EXIT_USAGE, optind == argc ?
		    "no location: give s3://bucket/key, file:///path or a "
		    "path" : "one location only");
	a->loc = argv[optind];
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a;
	struct bk_s3get_result res;
	struct bk_progress prog;
	struct bk_err err = { 0, 0, "" };
	struct bk_run run;
	int rc, sig;

	bk_run_start(&run, "bk-s3get");
	run.usage = usage;
	memset(&a, 0, sizeof(a));
	if ((rc = parse(argc, argv, &a, &err)) != 0) {
		run.closes_stdout = rc < 0;
		return bk_run_end(&run, rc < 0 ? &err : NULL);
	}
	bk_s3_catch_signals();
	if (a.out == NULL && isatty(1) && bk_verbose >= 0)
		bk_warn("writing the object to a terminal");
	bk_progress_init(&prog, 2, a.pmode, 0);
	rc = bk_s3get(a.loc, &a.aws, a.latest, a.out, &prog, &res, &err);
	bk_progress_end(&prog);
	if (rc == 0) {
		run.bytes_out = res.size;
		run.sha256 = res.sha256;
		run.destination = res.url;
		bk_info("%s: %llu bytes%s", res.url,
		    (unsigned long long)res.size, res.checked ?
		    ", size and SHA-256 match what bk-s3put recorded" :
		    " (no size and SHA-256 recorded: not checked)");
	}
	sig = bk_s3_cancel;
	if (rc < 0 && sig != 0)
		bk_err_set(&err, 128 + sig, "interrupted by signal %d", sig);
	rc = bk_run_end(&run, rc < 0 ? &err : NULL);
	bk_s3get_result_free(&res);
	if (sig != 0) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	return rc;
}
