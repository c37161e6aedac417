/*
 * bk-crypt - age v1 encryption to X25519 recipients or a passphrase, and
 * decryption with identities, stdin to stdout, aware of the pipeline seal.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "age.h"
#include "bk.h"

static const char usage[] =
    "bk-crypt [-adhqvV] [-i file]... [-P[when]] [-R file]... "
    "[-r recipient]...\n"
    "                [--passphrase-file file | --passphrase-fd fd] "
    "[--work-factor n]\n"
    "                [--max-work-factor n]\n"
    "       bk-crypt --keygen [-o file]\n"
    "       bk-crypt --to-recipient [-i file]";

enum { OPT_KEYGEN = 256, OPT_TOREC, OPT_PFILE, OPT_PFD, OPT_WF, OPT_MAXWF };

struct args {
	int		 decrypt, armor, keygen, torec;
	const char	*out;		/* --keygen -o */
	const char	*pfile;
	int		 pfd;
	enum bk_progress_mode pmode;
	struct bk_age_recipients rcp;
	struct bk_age_keyring	 keys;
	const char	*idfile;	/* the last -i, for --to-recipient */
};

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Encrypt stdin to stdout in age format, or decrypt with -d.\n\n"
	    "  -a, --armor             ASCII armor output\n"
	    "  -d, --decrypt           decrypt\n"
	    "  -h, --help              this help\n"
	    "  -i, --identity FILE     identity file (AGE-SECRET-KEY-1...)\n"
	    "      --keygen            make a new identity (-o FILE)\n"
	    "      --max-work-factor N highest scrypt work factor to accept "
	    "(22)\n"
	    "  -o, --output FILE       where --keygen writes the identity\n"
	    "  -P, --progress[=WHEN]   progress on stderr\n"
	    "      --passphrase-fd FD  read the passphrase from FD\n"
	    "      --passphrase-file F read the passphrase from F (mode 0600)\n"
	    "  -q, --quiet             no warnings\n"
	    "  -R, --recipients-file F encrypt to the recipients in F\n"
	    "  -r, --recipient AGE1... encrypt to this recipient\n"
	    "      --to-recipient      print the recipient of an identity\n"
	    "  -v, --verbose           a summary line at the end\n"
	    "  -V, --version           print the version\n"
	    "      --work-factor N     scrypt work factor when encrypting "
	    "(18)\n", usage);
}

/* Parse the options into a.  Returns 0, 1 when done (help, version),
 * or -1 with err. */
static int
parse(int argc, char **argv, struct args *a, struct bk_err *err)
{
	static const struct option longopts[] = {
		{ "armor",		no_argument,		NULL, 'a' },
		{ "decrypt",		no_argument,		NULL, 'd' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "identity",		required_argument,	NULL, 'i' },
		{ "keygen",		no_argument,		NULL, OPT_KEYGEN },
		{ "max-work-factor",	required_argument,	NULL, OPT_MAXWF },
		{ "output",		required_argument,	NULL, 'o' },
		{ "passphrase-fd",	required_argument,	NULL, OPT_PFD },
		{ "passphrase-file",	required_argument,	NULL, OPT_PFILE },
		{ "progress",		optional_argument,	NULL, 'P' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "recipient",		required_argument,	NULL, 'r' },
		{ "recipients-file",	required_argument,	NULL, 'R' },
		{ "to-recipient",	no_argument,		NULL, OPT_TOREC },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "version",		no_argument,		NULL, 'V' },
		{ "work-factor",	required_argument,	NULL, OPT_WF },
		{ NULL,			0,			NULL, 0 }
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, ":adhi:o:P::qR:r:vV", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'a': a->armor = 1; break;
		case 'd': a->decrypt = 1; break;
		case 'h': help(); return 1;
		case 'i':
			a->idfile = optarg;
			if (!a->torec &&
			    bk_age_keyring_file(&a->keys, optarg, err) < 0)
				return -1;
			break;
		case OPT_KEYGEN: a->keygen = 1; break;
		case OPT_MAXWF:
			if (bk_parse_uint("max work factor", optarg, 1, 30, &v,
			    err) < 0)
				return -1;
			a->keys.max_logn = (unsigned)v;
			break;
		case 'o': a->out = optarg; break;
		case OPT_PFD:
			if (bk_parse_uint("passphrase fd", optarg, 0, 1 << 20,
			    &v, err) < 0)
				return -1;
			a->pfd = (int)v;
			break;
		case OPT_PFILE: a->pfile = optarg; break;
		case 'P':
			if (bk_progress_parse(optarg, &a->pmode) < 0)
				return bk_err_set(err, BK_EXIT_USAGE,
				    "progress: %s: use auto, always or never",
				    optarg);
			break;
		case 'q': bk_verbose = -1; break;
		case 'R':
			if (bk_age_recipients_file(&a->rcp, optarg, err) < 0)
				return -1;
			break;
		case 'r':
			if (bk_age_recipients_add(&a->rcp, optarg, err) < 0)
				return -1;
			break;
		case OPT_TOREC: a->torec = 1; break;
		case 'v': bk_verbose++; break;
		case 'V': bk_cli_version(); return 1;
		case OPT_WF:
			if (bk_parse_uint("work factor", optarg, 1, 30, &v,
			    err) < 0)
				return -1;
			a->rcp.logn = (unsigned)v;
			break;
		default:
			return bk_cli_badopt(c, argv, err);
		}
	}
	if (optind < argc)
		return bk_err_set(err, BK_EXIT_USAGE, "%s: bk-crypt reads "
		    "stdin and writes stdout (use < and >)", argv[optind]);
	if (a->out != NULL && !a->keygen)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "-o is for --keygen; use > for data");
	if (a->keygen + a->torec + a->decrypt > 1)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "--keygen, --to-recipient and -d exclude each other");
	if (a->pfile != NULL && a->pfd >= 0)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "--passphrase-file and --passphrase-fd exclude each other");
	return 0;
}

/* The passphrase from --passphrase-file, --passphrase-fd or, failing
 * those, BK_PASSPHRASE (unless recipients were given). */
static int
passphrase(struct args *a, struct bk_secret *s, struct bk_err *err)
{
	return bk_secret_passphrase(a->pfile, a->pfd, a->decrypt ||
	    a->rcp.n == 0, s, err) < 0 ? -1 : 0;
}

/* --keygen: a new identity into -o FILE (created 0600, never replaced)
 * or stdout; its recipient on stderr. */
static int
keygen(const char *path, struct bk_err *err)
{
	struct bk_age_identity id;
	char sk[BK_AGE_IDENTITY_MAX], pk[BK_AGE_RECIPIENT_MAX], text[512];
	char when[32];
	time_t now = time(NULL);
	int fd = 1, n, rc = -1;

	if (bk_age_keygen(&id, err) < 0)
		return -1;
	bk_age_identity_format(&id, sk);
	bk_age_recipient_format(id.pk, pk);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	n = snprintf(text, sizeof(text), "# created: %s\n# public key: %s\n"
	    "%s\n", when, pk, sk);
	if (path != NULL) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			bk_err_sys(err, errno == EEXIST ? BK_EXIT_USAGE :
			    BK_EXIT_RUNTIME, errno, "%s", path);
			goto out;
		}
	}
	if (bk_io_write_all(fd, text, (size_t)n, path ? path : "output",
	    err) < 0 || (path != NULL && (fsync(fd) < 0 ||
	    bk_io_close(fd, path, err) < 0))) {
		if (path != NULL)
			unlink(path);
		goto out;
	}
	fprintf(stderr, "Public key: %s\n", pk);
	rc = 0;
out:
	bk_secret_wipe(&id, sizeof(id));
	bk_secret_wipe(sk, sizeof(sk));
	bk_secret_wipe(text, sizeof(text));
	return rc;
}

/* --to-recipient: the recipient of each identity in -i FILE or stdin. */
static int
to_recipient(const char *path, struct bk_err *err)
{
	struct bk_age_keyring k = { NULL, 0, { NULL, 0 }, 0 };
	char pk[BK_AGE_RECIPIENT_MAX];
	struct bk_secret s;
	size_t i;
	int rc;

	if (path != NULL)
		rc = bk_age_keyring_file(&k, path, err);
	else if ((rc = bk_secret_from_fd(&s, 0, err)) == 0) {
		rc = bk_age_keyring_add(&k, &s, "stdin", err);
		bk_secret_free(&s);
	}
	if (rc < 0) {
		bk_age_keyring_free(&k);
		return -1;
	}
	for (i = 0; i < k.n; i++) {
		bk_age_recipient_format(k.id[i].pk, pk);
		printf("%s\n", pk);
	}
	bk_age_keyring_free(&k);
	return fflush(stdout) == 0 ? 0 : bk_err_sys(err, BK_EXIT_RUNTIME,
	    errno, "output");
}

int
main(int argc, char **argv)
{
	struct args a;
	struct bk_age_opts o;
	struct bk_age_stats st;
	struct bk_progress progress;
	struct bk_err err = { 0, 0, "" };
	struct bk_run run;
	int rc;

	bk_run_start(&run, "bk-crypt");
	memset(&a, 0, sizeof(a));
	a.pfd = -1;
	a.rcp.logn = BK_AGE_LOGN_DEFAULT;
	a.keys.max_logn = BK_AGE_LOGN_MAX;
	run.usage = usage;
	if ((rc = parse(argc, argv, &a, &err)) != 0)
		goto done;
	if (a.keygen || a.torec) {
		rc = a.keygen ? keygen(a.out, &err) : to_recipient(a.idfile,
		    &err);
		goto done;
	}
	if ((rc = passphrase(&a, a.decrypt ? &a.keys.pass : &a.rcp.pass,
	    &err)) < 0)
		goto done;
	if (!a.decrypt && a.rcp.n == 0 && a.rcp.pass.len == 0) {
		rc = bk_err_set(&err, BK_EXIT_USAGE, "no recipient: give -r, "
		    "-R or a passphrase");
		goto done;
	}
	if (a.decrypt && a.keys.n == 0 && a.keys.pass.len == 0) {
		rc = bk_err_set(&err, BK_EXIT_USAGE, "nothing to decrypt "
		    "with: give -i or a passphrase");
		goto done;
	}
	if (!a.decrypt && !a.armor && isatty(1)) {
		rc = bk_err_set(&err, BK_EXIT_USAGE, "refusing to write "
		    "binary data to a terminal (-a for armor)");
		goto done;
	}
	memset(&o, 0, sizeof(o));
	o.in = 0;
	o.out = 1;
	o.armor = a.armor;
	o.at_eof = bk_run_at_eof;
	o.at_eof_arg = &run;
	bk_progress_init(&progress, 2, a.pmode, 0);
	o.progress = &progress;
	rc = a.decrypt ? bk_age_decrypt(&o, &a.keys, &st, &err) :
	    bk_age_encrypt(&o, &a.rcp, &st, &err);
	bk_progress_end(&progress);
	run.bytes_in = st.in;
	run.bytes_out = st.out;
	if (rc == 0)
		bk_info("%ju bytes in, %ju bytes out, %.2f s",
		    (uintmax_t)st.in, (uintmax_t)st.out, bk_now() - run.t0);
done:
	bk_age_recipients_free(&a.rcp);
	bk_age_keyring_free(&a.keys);
	if (rc > 0) {
		run.closes_stdout = 0;
		return bk_run_end(&run, NULL);
	}
	return bk_run_end(&run, rc < 0 ? &err : NULL);
}
