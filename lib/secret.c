/* secret.c - secret input: key files, file descriptors, the environment. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "secret.h"

void
bk_secret_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
bk_secret_free(struct bk_secret *s)
{
	if (s->data != NULL) {
		bk_secret_wipe(s->data, s->len + 1);
		free(s->data);
	}
	s->data = NULL;
	s->len = 0;
}

/* Read fd to end of file into s, refusing more than BK_SECRET_MAX bytes.
 * The buffer is allocated at full size once, so that no partial copy of
 * the secret is left behind in freed memory by realloc. */
static int
slurp(struct bk_secret *s, int fd, const char *what, struct bk_err *err)
{
	ssize_t n;

	s->data = malloc(BK_SECRET_MAX + 2);
	s->len = 0;
	if (s->data == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", what);
	n = bk_io_read_full(fd, s->data, BK_SECRET_MAX + 1, what, err);
	if (n < 0) {
		bk_secret_wipe(s->data, BK_SECRET_MAX + 2);
		free(s->data);
		s->data = NULL;
		return -1;
	}
	s->len = (size_t)n;
	if (s->len > BK_SECRET_MAX) {
		bk_secret_free(s);
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: larger than %d bytes", what, BK_SECRET_MAX);
	}
	s->data[s->len] = '\0';
	return 0;
}

int
bk_secret_from_file(struct bk_secret *s, const char *path,
    struct bk_err *err)
{
	struct stat st;
	int fd, rc;

	s->data = NULL;
	s->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return bk_err_sys(err, errno == ENOENT || errno == EACCES ?
		    BK_EXIT_USAGE : BK_EXIT_RUNTIME, errno, "%s", path);
	if (fstat(fd, &st) < 0) {
		rc = bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", path);
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: not a regular file", path);
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: mode %04o is open to others: key files must be 0600 "
		    "or stricter (chmod 600 %s)", path,
		    (unsigned)(st.st_mode & 07777), path);
	}
	rc = slurp(s, fd, path, err);
	close(fd);
	return rc;
}

int
bk_secret_from_fd(struct bk_secret *s, int fd, struct bk_err *err)
{
	char what[32];

	snprintf(what, sizeof(what), "file descriptor %d", fd);
	return slurp(s, fd, what, err);
}

int
bk_secret_from_env(struct bk_secret *s, const char *name, struct bk_err *err)
{
	char *v;
	size_t n;

	s->data = NULL;
	s->len = 0;
	v = getenv(name);
	if (v == NULL)
		return 0;
	n = strlen(v);
	if (n > BK_SECRET_MAX)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: larger than %d bytes", name, BK_SECRET_MAX);
	s->data = malloc(n + 1);
	if (s->data == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", name);
	memcpy(s->data, v, n + 1);
	s->len = n;
	/* The value lives in our own environment block: wipe it there too,
	 * and keep it from child processes. */
	bk_secret_wipe(v, n);
	unsetenv(name);
	return 1;
}

void
bk_secret_chomp(struct bk_secret *s)
{
	if (s->len > 0 && s->data[s->len - 1] == '\n') {
		s->data[--s->len] = '\0';
		if (s->len > 0 && s->data[s->len - 1] == '\r')
			s->data[--s->len] = '\0';
	}
}

int
bk_secret_passphrase(const char *file, int fd, int use_env,
    struct bk_secret *s, struct bk_err *err)
{
	int r;

	s->data = NULL;
	s->len = 0;
	if (file != NULL)
		r = bk_secret_from_file(s, file, err);
	else if (fd >= 0)
		r = bk_secret_from_fd(s, fd, err);
	else if (use_env)
		r = bk_secret_from_env(s, "BK_PASSPHRASE", err);
	else
		return 0;
	if (r < 0)
		return -1;
	bk_secret_chomp(s);
	/* a file or descriptor was named, or the variable was set */
	if ((file != NULL || fd >= 0 || r > 0) && s->len == 0) {
		bk_secret_free(s);
		return bk_err_set(err, BK_EXIT_USAGE, "empty passphrase");
	}
	return s->data != NULL && s->len > 0;
}
