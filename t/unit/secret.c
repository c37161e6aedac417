/* secret.c - unit tests for lib/secret: key files, fds, environment. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "secret.h"

static char path[512];

static void
xpipe(int p[2])
{
	if (pipe(p) == -1) {
		perror("pipe");
		exit(2);
	}
}

static void
xwrite(int fd, const void *buf, size_t n)
{
	if (write(fd, buf, n) != (ssize_t)n) {
		perror("write");
		exit(2);
	}
}

/* Write a file of n bytes with the given mode; returns its path. */
static const char *
mkfile(const char *name, const void *data, size_t n, mode_t mode)
{
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tap_tmpdir(), name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1) {
		perror(path);
		exit(2);
	}
	xwrite(fd, data, n);
	if (fchmod(fd, mode) == -1) {
		perror("fchmod");
		exit(2);
	}
	close(fd);
	return path;
}

/* Is s a well-formed secret holding exactly want? */
static int
holds(const struct bk_secret *s, const char *want, size_t n)
{
	return s->data != NULL && s->len == n &&
	    memcmp(s->data, want, n) == 0 && s->data[n] == '\0';
}

/* Load a secret from a small buffer through a pipe. */
static int
make_secret(struct bk_secret *s, const char *data, size_t n)
{
	struct bk_err e;
	int p[2], rc;

	xpipe(p);
	xwrite(p[1], data, n);
	close(p[1]);
	memset(s, 0, sizeof(*s));
	rc = bk_secret_from_fd(s, p[0], &e);
	close(p[0]);
	return rc;
}

static void
refused_mode(mode_t mode)
{
	struct bk_secret s;
	struct bk_err e;
	int rc;

	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_secret_from_file(&s, mkfile("key", "k\n", 2, mode), &e);
	is_int(rc, -1, "mode %04o is refused", (unsigned)mode);
	is_int(e.code, BK_EXIT_USAGE, "mode %04o: BK_EXIT_USAGE",
	    (unsigned)mode);
	ok(strstr(e.msg, "chmod") != NULL || strstr(e.msg, "mode") != NULL,
	    "mode %04o: message says how to fix it (\"%s\")", (unsigned)mode,
	    e.msg);
	if (rc == 0)
		bk_secret_free(&s);
}

static void
test_file(void)
{
	struct bk_secret s;
	struct bk_err e;
	char *big;
	int rc;

	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_secret_from_file(&s, mkfile("key", "hunter2\n", 8, 0600), &e);
	if (!is_int(rc, 0, "a 0600 key file is read"))
		diag("  err \"%s\"", e.msg);
	ok(rc == 0 && holds(&s, "hunter2\n", 8),
	    "its bytes are kept as they are, NUL-terminated");
	bk_secret_free(&s);

	memset(&s, 0, sizeof(s));
	rc = bk_secret_from_file(&s, mkfile("key", "abc", 3, 0400), &e);
	ok(rc == 0 && holds(&s, "abc", 3), "a 0400 key file is read");
	bk_secret_free(&s);

	/* Binary key material with NUL bytes keeps its length. */
	memset(&s, 0, sizeof(s));
	rc = bk_secret_from_file(&s, mkfile("key", "a\0b\0c", 5, 0600), &e);
	ok(rc == 0 && holds(&s, "a\0b\0c", 5), "NUL bytes inside are kept");
	bk_secret_free(&s);

	refused_mode(0644);
	refused_mode(0640);
	refused_mode(0604);
	refused_mode(0620);
	refused_mode(0602);
	refused_mode(0666);

	/* A directory, even a private one. */
	snprintf(path, sizeof(path), "%s/keydir", tap_tmpdir());
	mkdir(path, 0700);
	chmod(path, 0700);
	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_secret_from_file(&s, path, &e);
	is_int(rc, -1, "a directory is refused");
	is_int(e.code, BK_EXIT_USAGE, "a directory: BK_EXIT_USAGE");
	if (rc == 0)
		bk_secret_free(&s);

	/* A missing file. */
	snprintf(path, sizeof(path), "%s/no-such-key", tap_tmpdir());
	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_secret_from_file(&s, path, &e);
	is_int(rc, -1, "a missing file is refused");
	ok(strstr(e.msg, "no-such-key") != NULL,
	    "the message names the file (\"%s\")", e.msg);
	ok(e.code != 0, "a missing file sets an exit code (%d)", e.code);

	/* Size limit. */
	big = malloc(BK_SECRET_MAX + 1);
	memset(big, 'k', BK_SECRET_MAX + 1);
	memset(&s, 0, sizeof(s));
	rc = bk_secret_from_file(&s, mkfile("big", big, BK_SECRET_MAX, 0600),
	    &e);
	ok(rc == 0 && s.len == BK_SECRET_MAX,
	    "a file of exactly BK_SECRET_MAX bytes is read");
	bk_secret_free(&s);

	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_secret_from_file(&s, mkfile("big", big, BK_SECRET_MAX + 1,
	    0600), &e);
	is_int(rc, -1, "a file larger than BK_SECRET_MAX is refused");
	ok(e.msg[0] != '\0', "with a message (\"%s\")", e.msg);
	if (rc == 0)
		bk_secret_free(&s);
	free(big);
}

static void
test_fd(void)
{
	struct bk_secret s;
	struct bk_err e;
	char *big;
	pid_t pid;
	int p[2], rc, status;

	/* A pipe fed in small pieces by a child. */
	xpipe(p);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		xwrite(p[1], "pass", 4);
		usleep(50000);
		xwrite(p[1], "phrase\n", 7);
		_exit(0);
	}
	close(p[1]);
	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_secret_from_fd(&s, p[0], &e);
	if (!is_int(rc, 0, "from_fd reads a pipe to end of file"))
		diag("  err \"%s\"", e.msg);
	ok(rc == 0 && holds(&s, "passphrase\n", 11),
	    "from_fd joins the pieces");
	ok(fcntl(p[0], F_GETFD) != -1, "from_fd leaves the fd open");
	close(p[0]);
	waitpid(pid, &status, 0);
	bk_secret_free(&s);

	/* Too much through a pipe. */
	big = malloc(BK_SECRET_MAX + 100);
	memset(big, 'k', BK_SECRET_MAX + 100);
	xpipe(p);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		signal(SIGPIPE, SIG_DFL);
		if (write(p[1], big, BK_SECRET_MAX + 100) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_secret_from_fd(&s, p[0], &e);
	is_int(rc, -1, "from_fd refuses more than BK_SECRET_MAX bytes");
	if (rc == 0)
		bk_secret_free(&s);
	close(p[0]);
	waitpid(pid, &status, 0);
	free(big);

	/* A bad fd. */
	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	is_int(bk_secret_from_fd(&s, -1, &e), -1, "from_fd(-1) fails");
	ok(e.code != 0 && e.msg[0] != '\0', "with a code and message");
}

static void
test_env(void)
{
	static char envbuf[] = "BK_TEST_SECRET=s3cr3t-value";
	struct bk_secret s;
	struct bk_err e;
	const char *val = envbuf + strlen("BK_TEST_SECRET=");
	int rc;

	/* putenv: the environment holds our buffer, so we can see the wipe. */
	putenv(envbuf);
	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_secret_from_env(&s, "BK_TEST_SECRET", &e);
	is_int(rc, 1, "from_env returns 1 when the variable is set");
	ok(rc == 1 && holds(&s, "s3cr3t-value", 12), "from_env copies the value");
	ok(getenv("BK_TEST_SECRET") == NULL, "the variable is unset afterwards");
	ok(strstr(val, "s3cr3t") == NULL && memcmp(val, "s3cr3t-value", 12)
	    != 0, "the value in the environment memory was wiped");
	bk_secret_free(&s);

	setenv("BK_TEST_SECRET2", "other", 1);
	memset(&s, 0, sizeof(s));
	rc = bk_secret_from_env(&s, "BK_TEST_SECRET2", &e);
	ok(rc == 1 && holds(&s, "other", 5), "from_env with setenv's copy");
	ok(getenv("BK_TEST_SECRET2") == NULL, "and it is unset");
	bk_secret_free(&s);

	unsetenv("BK_TEST_NOPE");
	memset(&s, 0, sizeof(s));
	rc = bk_secret_from_env(&s, "BK_TEST_NOPE", &e);
	is_int(rc, 0, "from_env returns 0 when the variable is unset");
	ok(s.data == NULL && s.len == 0, "and leaves the secret empty");
}

static void
chomp_is(const char *in, size_t inlen, const char *want, size_t wantlen)
{
	struct bk_secret s;

	if (make_secret(&s, in, inlen) != 0) {
		ok(0, "make a secret for chomp");
		return;
	}
	bk_secret_chomp(&s);
	ok(holds(&s, want, wantlen), "chomp of %zu bytes leaves %zu", inlen,
	    wantlen);
	bk_secret_free(&s);
}

static void
test_chomp_free_wipe(void)
{
	struct bk_secret s;
	unsigned char buf[32];
	size_t i;
	int good;

	chomp_is("abc\n", 4, "abc", 3);
	chomp_is("abc\r\n", 5, "abc", 3);
	chomp_is("abc\n\n", 5, "abc\n", 4);
	chomp_is("abc\r\n\r\n", 7, "abc\r\n", 5);
	chomp_is("abc", 3, "abc", 3);
	chomp_is("abc\r", 4, "abc\r", 4);
	chomp_is("\n", 1, "", 0);
	chomp_is("\r\n", 2, "", 0);
	chomp_is("a\nb", 3, "a\nb", 3);

	if (make_secret(&s, "secret", 6) == 0) {
		bk_secret_free(&s);
		ok(s.data == NULL && s.len == 0, "free leaves data NULL, len 0");
		bk_secret_free(&s);
		ok(s.data == NULL && s.len == 0, "free twice is safe");
	} else
		skip(2, "make_secret failed");
	memset(&s, 0, sizeof(s));
	bk_secret_chomp(&s);
	ok(s.data == NULL && s.len == 0, "chomp of an empty secret is safe");

	memset(buf, 'A', sizeof(buf));
	bk_secret_wipe(buf + 4, 10);
	good = 1;
	for (i = 0; i < sizeof(buf); i++)
		if (buf[i] != (i >= 4 && i < 14 ? 0 : 'A'))
			good = 0;
	ok(good, "wipe zeroes exactly n bytes");
	bk_secret_wipe(buf, 0);
	ok(buf[0] == 'A', "wipe of 0 bytes changes nothing");
}

int
main(void)
{
	test_file();
	test_fd();
	test_env();
	test_chomp_free_wipe();
	return done_testing();
}
