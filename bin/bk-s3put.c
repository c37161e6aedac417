/*
 * bk-s3put - store stdin, of any length, as one S3 object or file; commit
 * it only at a clean end of input from an upstream that did not fail.
 */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws.h"
#include "bk.h"
#include "fsstore.h"
#include "s3.h"
#include "s3put.h"

static const char usage[] =
    "bk-s3put [-hqvV] [-j jobs] [-P[when]] [--content-type type]\n"
    "                [--expected-size size] [--lock-mode mode "
    "--retain-until when]\n"
    "                [--meta key=value]... [--no-clobber[=check]] "
    "[--part-size size]\n"
    "                [--skip-same key] [--sse alg [--sse-kms-key-id id]]\n"
    "                [--storage-class class]\n"
    "                [S3 options] location";

#define META_MAX	16

enum {
	OPT_CTYPE = 0x100, OPT_EXPECT, OPT_LOCK, OPT_META, OPT_NOCLOB,
	OPT_PART, OPT_RETAIN, OPT_SAME, OPT_SSE, OPT_KMS, OPT_CLASS
};

struct args {
	struct bk_aws_opts	 aws;
	struct bk_s3put_opts	 put;
	enum bk_progress_mode	 pmode;
	const char		*loc;
	const char		*ctype, *lock, *retain, *sse, *kms, *class;
	const char		*same;
	const char		*meta[META_MAX];
	unsigned		 nmeta;
	struct bk_sigv4_header	 h[META_MAX + 8];
	char			 mname[META_MAX][80];
	char			 mkey[META_MAX][72];
	const char		*mkeys[META_MAX], *mvals[META_MAX];
	char			 until[32];
};

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Store stdin at location: s3://bucket/key, file:///path or a path;\n"
	    "strftime %% sequences in it are expanded in UTC.  Prints the "
	    "SHA-256,\nsize and location of what it stored.\n\n"
	    "      --content-type T   the object's Content-Type\n"
	    "      --expected-size N  size hint: one part size for the whole\n"
	    "  -h, --help             this help\n"
	    "  -j, --jobs N           parts in flight (default 3)\n"
	    "      --lock-mode MODE   object lock: GOVERNANCE or COMPLIANCE\n"
	    "      --meta KEY=VALUE   user metadata (repeatable)\n"
	    "      --no-clobber[=check] never replace an object (=check: "
	    "check first\n"
	    "                         where the store has no conditional "
	    "writes)\n"
	    "  -P, --progress[=WHEN]  progress on stderr (auto, always, "
	    "never)\n"
	    "      --part-size N      one fixed part size (5M to 5G)\n"
	    "  -q, --quiet            no warnings\n"
	    "      --retain-until T   lock until a date (2027-01-31) or for a "
	    "duration (30d)\n"
	    "      --skip-same KEY    with --no-clobber: an object there whose "
	    "--meta KEY\n"
	    "                         is ours is the same: store nothing, "
	    "exit 0\n"
	    "      --sse ALG          server-side encryption: AES256 or "
	    "aws:kms\n"
	    "      --sse-kms-key-id ID the KMS key for --sse aws:kms\n"
	    "      --storage-class C  STANDARD, STANDARD_IA, GLACIER_IR, ...\n"
	    "  -v, --verbose          what it does (twice: every request)\n"
	    "  -V, --version          print the version\n"
	    BK_AWS_HELP, usage);
}

/* --retain-until: a date, a date and time (UTC), or a duration from now. */
static int
retain_until(const char *s, char *out, size_t size, struct bk_err *err)
{
	struct bk_err e;
	struct tm tm;
	uint64_t d;
	time_t t;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if (bk_parse_duration("retention", s, 1, 100ULL * 366 * 86400, &d,
	    &e) == 0) {
		t = time(NULL) + (time_t)d;
	} else if (((p = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL ||
	    (p = strptime(s, "%Y-%m-%d", &tm)) != NULL) && *p == '\0') {
		t = timegm(&tm);
		if (t <= time(NULL))
			return bk_err_set(err, BK_EXIT_USAGE, "--retain-until "
			    "%s: in the past", s);
	} else {
		return bk_err_set(err, BK_EXIT_USAGE, "--retain-until %s: "
		    "expected a date (2027-01-31, 2027-01-31T00:00:00Z) or a "
		    "duration (30d)", s);
	}
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	return 0;
}

/* The object headers from the options. */
static int
headers(struct args *a, struct bk_err *err)
{
	size_t n = 0;
	unsigned i;

	if (a->ctype != NULL)
		a->h[n].name = "content-type", a->h[n++].value = a->ctype;
	if (a->class != NULL)
		a->h[n].name = "x-amz-storage-class", a->h[n++].value =
		    a->class;
	if (a->sse != NULL) {
		if (strcmp(a->sse, "AES256") != 0 &&
		    strcmp(a->sse, "aws:kms") != 0)
			return bk_err_set(err, BK_EXIT_USAGE, "--sse %s: use "
			    "AES256 or aws:kms", a->sse);
		a->h[n].name = "x-amz-server-side-encryption";
		a->h[n++].value = a->sse;
	}
	if (a->kms != NULL) {
		if (a->sse == NULL || strcmp(a->sse, "aws:kms") != 0)
			return bk_err_set(err, BK_EXIT_USAGE, "--sse-kms-key-id "
			    "needs --sse aws:kms");
		a->h[n].name = "x-amz-server-side-encryption-aws-kms-key-id";
		a->h[n++].value = a->kms;
	}
	if ((a->lock == NULL) != (a->retain == NULL))
		return bk_err_set(err, BK_EXIT_USAGE, "--lock-mode and "
		    "--retain-until go together");
	if (a->lock != NULL) {
		if (strcmp(a->lock, "GOVERNANCE") != 0 &&
		    strcmp(a->lock, "COMPLIANCE") != 0)
			return bk_err_set(err, BK_EXIT_USAGE, "--lock-mode %s: "
			    "use GOVERNANCE or COMPLIANCE", a->lock);
		if (retain_until(a->retain, a->until, sizeof(a->until),
		    err) < 0)
			return -1;
		a->h[n].name = "x-amz-object-lock-mode", a->h[n++].value =
		    a->lock;
		a->h[n].name = "x-amz-object-lock-retain-until-date";
		a->h[n++].value = a->until;
		a->put.content_md5 = 1;
	}
	for (i = 0; i < a->nmeta; i++) {
		const char *eq = strchr(a->meta[i], '='), *k = a->meta[i], *v;
		size_t kl;

		if (eq == NULL || eq == k || (kl = (size_t)(eq - k)) > 64)
			return bk_err_set(err, BK_EXIT_USAGE, "--meta %s: "
			    "expected KEY=VALUE", a->meta[i]);
		if (strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-_") < kl ||
		    strncmp(k, "bk-", 3) == 0)
			return bk_err_set(err, BK_EXIT_USAGE, "--meta %.*s: keys "
			    "are lower-case letters, digits, '-' and '_', and "
			    "bk-* is bk's own", (int)kl, k);
		for (v = eq + 1; *v != '\0'; v++)
			if (!isprint((unsigned char)*v))
				return bk_err_set(err, BK_EXIT_USAGE, "--meta "
				    "%.*s: the value must be printable ASCII",
				    (int)kl, k);
		snprintf(a->mname[i], sizeof(a->mname[i]), "x-amz-meta-%.*s",
		    (int)kl, k);
		a->h[n].name = a->mname[i], a->h[n++].value = eq + 1;
		snprintf(a->mkey[i], sizeof(a->mkey[i]), "%.*s", (int)kl, k);
		a->mkeys[i] = a->mkey[i];
		a->mvals[i] = eq + 1;
		if (a->same != NULL && strlen(a->same) == kl &&
		    strncmp(a->same, k, kl) == 0) {
			a->put.same_meta = a->same;
			a->put.same_value = eq + 1;
		}
	}
	if (a->same != NULL && a->put.clobber == BK_S3PUT_CLOBBER)
		return bk_err_set(err, BK_EXIT_USAGE, "--skip-same needs "
		    "--no-clobber");
	if (a->same != NULL && a->put.same_meta == NULL)
		return bk_err_set(err, BK_EXIT_USAGE, "--skip-same %s: no "
		    "--meta %s=... to compare", a->same, a->same);
	a->put.headers = a->h;
	a->put.nheaders = n;
	a->put.meta_keys = a->mkeys;
	a->put.meta_values = a->mvals;
	a->put.nmeta = a->nmeta;
	return 0;
}

static int
parse(int argc, char **argv, struct args *a, struct bk_err *err)
{
	static const struct option longopts[] = {
		{ "content-type",	required_argument, NULL, OPT_CTYPE },
		{ "expected-size",	required_argument, NULL, OPT_EXPECT },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "jobs",		required_argument, NULL, 'j' },
		{ "lock-mode",		required_argument, NULL, OPT_LOCK },
		{ "meta",		required_argument, NULL, OPT_META },
		{ "no-clobber",		optional_argument, NULL, OPT_NOCLOB },
		{ "part-size",		required_argument, NULL, OPT_PART },
		{ "progress",		optional_argument, NULL, 'P' },
		{ "quiet",		no_argument,	   NULL, 'q' },
		{ "retain-until",	required_argument, NULL, OPT_RETAIN },
		{ "skip-same",		required_argument, NULL, OPT_SAME },
		{ "sse",		required_argument, NULL, OPT_SSE },
		{ "sse-kms-key-id",	required_argument, NULL, OPT_KMS },
		{ "storage-class",	required_argument, NULL, OPT_CLASS },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ "version",		no_argument,	   NULL, 'V' },
		BK_AWS_LONGOPTS,
		{ NULL,			0,		   NULL, 0 }
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, ":hj:P::qvV", longopts, NULL)) !=
	    -1) {
		if (bk_aws_getopt(&a->aws, c, optarg))
			continue;
		switch (c) {
		case 'h':
			help();
			return 1;
		case 'j':
			if (bk_parse_uint("jobs", optarg, 1, 64, &v, err) < 0)
				return -1;
			a->put.jobs = (unsigned)v;
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
		case OPT_CTYPE:
			a->ctype = optarg;
			break;
		case OPT_EXPECT:
			if (bk_parse_size("expected size", optarg, 1,
			    BK_S3_PART_MAX * BK_S3_PARTS_MAX, &v, err) < 0)
				return -1;
			a->put.expected_size = v;
			break;
		case OPT_LOCK:
			a->lock = optarg;
			break;
		case OPT_META:
			if (a->nmeta == META_MAX)
				return bk_err_set(err, BK_EXIT_USAGE, "at most "
				    "%d --meta", META_MAX);
			a->meta[a->nmeta++] = optarg;
			break;
		case OPT_NOCLOB:
			if (optarg == NULL)
				a->put.clobber = BK_S3PUT_NOCLOBBER;
			else if (strcmp(optarg, "check") == 0)
				a->put.clobber = BK_S3PUT_NOCLOBBER_CHECK;
			else
				return bk_err_set(err, BK_EXIT_USAGE,
				    "--no-clobber=%s: only =check", optarg);
			break;
		case OPT_PART:
			if (bk_parse_size("part size", optarg, BK_S3_PART_MIN,
			    BK_S3_PART_MAX, &v, err) < 0)
				return -1;
			a->put.part_size = v;
			break;
		case OPT_RETAIN:
			a->retain = optarg;
			break;
		case OPT_SAME:
			a->same = optarg;
			break;
		case OPT_SSE:
			a->sse = optarg;
			break;
		case OPT_KMS:
			a->kms = optarg;
			break;
		case OPT_CLASS:
			a->class = optarg;
			break;
		default:
			return bk_cli_badopt(c, argv, err);
		}
	}
	if (optind + 1 != argc)
		return bk_err_set(err, BK_EXIT_USAGE, optind == argc ?
		    "no location: give s3://bucket/key, file:///path or a "
		    "path" : "one location only");
	a->loc = argv[optind];
	return headers(a, err);
}

static void
on_bytes(void *arg, uint64_t n)
{
	bk_progress_add(arg, n);
}

int
main(int argc, char **argv)
{
	struct args a;
	struct bk_aws aws;
	struct bk_s3_loc l = { NULL, NULL };
	struct bk_s3put_result res;
	struct bk_progress prog;
	struct bk_err err = { 0, 0, "" };
	struct bk_run run;
	char url[4096], *path = NULL, sz[32];
	int rc, aws_ok = 0, meta = 1, sig;

	bk_run_start(&run, "bk-s3put");
	run.usage = usage;
	memset(&a, 0, sizeof(a));
	a.put.jobs = 3;
	if ((rc = parse(argc, argv, &a, &err)) != 0) {
		run.closes_stdout = rc < 0;
		return bk_run_end(&run, rc < 0 ? &err : NULL);
	}
	bk_s3_catch_signals();
	rc = -1;
	if (bk_template_expand(a.loc, time(NULL), url, sizeof(url), &err) < 0)
		goto done;
	run.destination = url;
	bk_progress_init(&prog, 2, a.pmode, 0);
	if (strncmp(url, "s3://", 5) == 0) {
		if (bk_s3_loc_parse(&l, url, &err) < 0)
			goto done;
		if (l.key[0] == '\0' || l.key[strlen(l.key) - 1] == '/') {
			bk_err_set(&err, BK_EXIT_USAGE, "%s: no object key "
			    "(it ends in '/')", url);
			goto done;
		}
		if (bk_aws_load(&aws, &a.aws, &err) < 0)
			goto done;
		aws_ok = 1;
		rc = bk_s3put(&aws, l.bucket, l.key, 0, &a.put, bk_run_at_eof,
		    &run, on_bytes, &prog, &res, &err);
	} else {
		/* What only S3 can do must not be dropped silently. */
		if (a.class || a.sse || a.lock || a.ctype) {
			bk_err_set(&err, BK_EXIT_USAGE, "%s: --storage-class, "
			    "--sse, --lock-mode and --content-type are for "
			    "s3:// locations", url);
			goto done;
		}
		if (bk_fs_path(url, &path, &err) < 0)
			goto done;
		rc = bk_fs_put_opts(path, 0, &a.put, bk_run_at_eof, &run,
		    on_bytes, &prog, &res, &meta, &err);
		if (rc == 0 && !meta && !res.skipped)
			bk_warn("%s: the filesystem keeps no extended "
			    "attributes: size and SHA-256 not recorded", path);
	}
	bk_progress_end(&prog);
	if (rc == 0 && res.skipped) {
		run.bytes_in = res.size;
		bk_info("%s: there already, with the same %s: nothing stored",
		    url, a.same);
	} else if (rc == 0) {
		run.bytes_in = res.size;
		run.sha256 = res.sha256;
		printf("%s %llu %s\n", res.sha256, (unsigned long long)res.size,
		    url);
		bk_info("stored %s (%s, %s, %s)", url, bk_fmt_size(sz,
		    sizeof(sz), res.size), res.parts ? "multipart" :
		    "one request", res.seal == BK_SEAL_OK ? "sealed" :
		    res.seal == BK_SEAL_NONE ? "from a file" : "unsealed");
	}
done:
	if (aws_ok)
		bk_aws_free(&aws);
	bk_s3_loc_free(&l);
	free(path);
	sig = bk_s3_cancel;
	if (rc < 0 && sig != 0)
		bk_err_set(&err, 128 + sig, "interrupted by signal %d: nothing "
		    "stored", sig);
	rc = bk_run_end(&run, rc < 0 ? &err : NULL);
	if (sig != 0) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	return rc;
}
