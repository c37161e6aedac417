/*
 * bk-s3ls - list the objects under an S3 prefix or the files under a
 * path, one "TIME SIZE URL" line each (the listing bk-prune and bk-age
 * read).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "bk.h"
#include "fsstore.h"
#include "listing.h"
#include "s3.h"

static const char usage[] =
    "bk-s3ls [-ahqvV] [--json] [S3 options] location";

struct ls {
	int		 json;
	int		 all;
	const char	*bucket;
	uint64_t	 count;
	uint64_t	 bytes;
	uint64_t	 skipped;
};

static void
help(void)
{
	printf("usage: %s\n\n"
	    "List every object under location (s3://bucket/prefix, "
	    "file:///dir/ or a\npath prefix), in key order: "
	    "\"TIME SIZE URL\" lines, TIME the last\nmodification in UTC.\n\n"
	    "  -a, --all              also the KEY.sha256 records of "
	    "multipart objects\n"
	    "  -h, --help             this help\n"
	    "      --json             one JSON object per line\n"
	    "  -q, --quiet            no warnings\n"
	    "  -v, --verbose          a count at the end (twice: every "
	    "request)\n"
	    "  -V, --version          print the version\n"
	    BK_AWS_HELP, usage);
}

/* Write one object; a name no listing can carry is skipped, loudly. */
static int
emit(struct ls *ls, time_t t, uint64_t size, const char *url,
    struct bk_err *err)
{
	struct bk_listing_obj o = { t, size, (char *)url };
	int rc;

	rc = ls->json ? bk_listing_write_json(stdout, &o, err) :
	    bk_listing_write(stdout, &o, err);
	if (rc < 0 && err->code == BK_EXIT_CHECK) {
		bk_warn("skipped: %s", err->msg);
		bk_err_clear(err);
		ls->skipped++;
		return 0;
	}
	if (rc == 0) {
		ls->count++;
		ls->bytes += size;
	}
	return rc;
}

static int
on_s3(void *arg, const struct bk_s3_obj *o, struct bk_err *err)
{
	struct ls *ls = arg;
	char *url;
	int rc;

	if (asprintf(&url, "s3://%s/%s", ls->bucket, o->key) < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "out of memory");
	rc = emit(ls, o->mtime, o->size, url, err);
	free(url);
	return rc;
}

static int
on_fs(void *arg, const char *path, uint64_t size, time_t mtime,
    struct bk_err *err)
{
	return emit(arg, mtime, size, path, err);
}

static int
list(const char *loc, const struct bk_aws_opts *ao, struct ls *ls,
    struct bk_err *err)
{
	struct bk_aws aws;
	struct bk_s3_loc l;
	struct bk_s3 c;
	char *path;
	int rc;

	if (strncmp(loc, "s3://", 5) != 0) {
		if (bk_fs_path(loc, &path, err) < 0)
			return -1;
		rc = bk_fs_list(path, on_fs, ls, err);
		free(path);
		return rc;
	}
	if (bk_s3_loc_parse(&l, loc, err) < 0)
		return -1;
	rc = -1;
	ls->bucket = l.bucket;
	if (bk_aws_load(&aws, ao, err) == 0) {
		if (bk_s3_open(&c, &aws, err) == 0) {
			rc = bk_s3_list(&c, l.bucket, l.key, ls->all ?
			    BK_S3_LIST_RECORDS : 0, on_s3, ls, err);
			bk_s3_close(&c);
		}
		bk_aws_free(&aws);
	}
	bk_s3_loc_free(&l);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all",	no_argument,		NULL, 'a' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		BK_AWS_LONGOPTS,
		{ NULL,		0,			NULL, 0 }
	};
	struct bk_aws_opts ao;
	struct ls ls;
	struct bk_err err = { 0, 0, "" };
	struct bk_run run;
	char sz[32];
	int c, rc;

	bk_run_start(&run, "bk-s3ls");
	run.usage = usage;
	memset(&ao, 0, sizeof(ao));
	memset(&ls, 0, sizeof(ls));
	while ((c = getopt_long(argc, argv, ":ahqvV", longopts, NULL)) != -1) {
		if (bk_aws_getopt(&ao, c, optarg))
			continue;
		switch (c) {
		case 'a':
			ls.all = 1;
			break;
		case 'h':
			help();
			run.closes_stdout = 0;
			return bk_run_end(&run, NULL);
		case 'j':
			ls.json = 1;
			break;
		case 'q':
			bk_verbose = -1;
			break;
		case 'v':
			bk_verbose++;
			break;
		case 'V':
			bk_cli_version();
			run.closes_stdout = 0;
			return bk_run_end(&run, NULL);
		default:
			bk_cli_badopt(c, argv, &err);
			return bk_run_end(&run, &err);
		}
	}
	if (optind + 1 != argc) {
		bk_err_set(&err, BK_EXIT_USAGE, optind == argc ? "no location: "
		    "give s3://bucket/prefix, file:///dir/ or a path" :
		    "one location only");
		return bk_run_end(&run, &err);
	}
	run.destination = argv[optind];
	rc = list(argv[optind], &ao, &ls, &err);
	if (rc == 0 && fflush(stdout) != 0)
		rc = bk_err_sys(&err, BK_EXIT_RUNTIME, errno, "stdout");
	run.bytes_out = ls.bytes;
	if (rc == 0)
		bk_info("%llu objects, %s%s", (unsigned long long)ls.count,
		    bk_fmt_size(sz, sizeof(sz), ls.bytes), ls.skipped ?
		    " (and some skipped: see above)" : "");
	return bk_run_end(&run, rc < 0 ? &err : NULL);
}
