/*
 * bk-gz - gzip compression on every CPU, decompression and testing of
 * gzip streams, stdin to stdout, aware of the pipeline seal.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bk.h"

static const char usage[] =
    "bk-gz [-123456789cdfhqtvV] [-b size] [-P[when]] [-p threads]";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Compress stdin to stdout in gzip format, on several threads.\n\n"
	    "  -1 ... -9             compression level (default 6)\n"
	    "  -b, --block-size SIZE compression block (default 1M)\n"
	    "  -c, --stdout          accepted for gzip habits (always so)\n"
	    "  -d, --decompress      decompress\n"
	    "  -f, --force           read or write compressed data on a "
	    "terminal\n"
	    "  -h, --help            this help\n"
	    "  -P, --progress[=WHEN] progress on stderr (auto, always, "
	    "never)\n"
	    "  -p, --threads N       compression threads (default: CPUs)\n"
	    "  -q, --quiet           no warnings\n"
	    "  -t, --test            check the input, write nothing\n"
	    "  -v, --verbose         a summary line at the end\n"
	    "  -V, --version         print the version\n", usage);
}

static void
summary(const struct bk_gz_stats *st, double secs, int decomp)
{
	char in[32], out[32], rate[32];
	uint64_t raw = decomp ? st->out : st->in;
	uint64_t packed = decomp ? st->in : st->out;

	bk_fmt_size(in, sizeof(in), st->in);
	bk_fmt_size(out, sizeof(out), st->out);
	bk_fmt_size(rate, sizeof(rate), secs > 0 ? (uint64_t)(raw / secs) :
	    raw);
	bk_info("%s in, %s out (%.1f%%), %.2f s, %s/s", in, out,
	    raw ? 100.0 * (double)packed / (double)raw : 0.0, secs, rate);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "best",	no_argument,		NULL, '9' },
		{ "block-size",	required_argument,	NULL, 'b' },
		{ "decompress",	no_argument,		NULL, 'd' },
		{ "fast",	no_argument,		NULL, '1' },
		{ "force",	no_argument,		NULL, 'f' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "progress",	optional_argument,	NULL, 'P' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "stdout",	no_argument,		NULL, 'c' },
		{ "test",	no_argument,		NULL, 't' },
		{ "threads",	required_argument,	NULL, 'p' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	enum bk_progress_mode pmode = BK_PROGRESS_OFF;
	struct bk_progress progress;
	struct bk_gz_opts o;
	struct bk_gz_stats st;
	struct bk_err err = { 0, 0, "" };
	struct bk_run run;
	uint64_t v;
	int c, decomp = 0, test = 0, force = 0, rc;

	bk_run_start(&run, "bk-gz");
	bk_gz_opts_init(&o);
	while ((c = getopt_long(argc, argv, ":123456789b:cdfhP::p:qtvV",
	    longopts, NULL)) != -1) {
		switch (c) {
		case '1': case '2': case '3': case '4': case '5':
		case '6': case '7': case '8': case '9':
			o.level = c - '0';
			break;
		case 'b':
			if (bk_parse_size("block size", optarg,
			    BK_GZ_BLOCK_MIN, BK_GZ_BLOCK_MAX, &v, &err) < 0)
				goto usage;
			o.block = (size_t)v;
			break;
		case 'c':
			break;
		case 'd':
			decomp = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			help();
			run.closes_stdout = 0;
			return bk_run_end(&run, NULL);
		case 'P':
			if (bk_progress_parse(optarg, &pmode) < 0) {
				bk_err_set(&err, BK_EXIT_USAGE,
				    "progress: %s: use auto, always or never",
				    optarg);
				goto usage;
			}
			break;
		case 'p':
			if (bk_parse_uint("threads", optarg, 1, 256, &v,
			    &err) < 0)
				goto usage;
			o.threads = (unsigned)v;
			break;
		case 'q':
			bk_verbose = -1;
			break;
		case 't':
			test = 1;
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
			goto usage;
		}
	}
	if (optind < argc) {
		bk_err_set(&err, BK_EXIT_USAGE, "%s: bk-gz reads stdin and "
		    "writes stdout (use < and >)", argv[optind]);
		goto usage;
	}
	if (!force && !decomp && !test && isatty(1)) {
		bk_err_set(&err, BK_EXIT_USAGE, "refusing to write compressed "
		    "data to a terminal (-f to force)");
		goto usage;
	}
	if (!force && (decomp || test) && isatty(0)) {
		bk_err_set(&err, BK_EXIT_USAGE, "refusing to read compressed "
		    "data from a terminal (-f to force)");
		goto usage;
	}

	if (test)
		o.out = -1;
	o.at_eof = bk_run_at_eof;
	o.at_eof_arg = &run;
	bk_progress_init(&progress, 2, pmode, 0);
	o.progress = &progress;
	if (decomp || test)
		rc = bk_gz_decompress(&o, &st, &err);
	else
		rc = bk_gz_compress(&o, &st, &err);
	bk_progress_end(&progress);
	run.bytes_in = st.in;
	run.bytes_out = test ? 0 : st.out;
	if (rc == 0)
		summary(&st, bk_now() - run.t0, decomp || test);
	return bk_run_end(&run, rc < 0 ? &err : NULL);

usage:
	run.usage = usage;
	return bk_run_end(&run, &err);
}
