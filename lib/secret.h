/*
 * secret.h - secret input: key files, file descriptors, the environment.
 *
 * No secret is ever taken from the command line.  A secret lives in a
 * struct bk_secret whose memory is wiped by bk_secret_free().
 */
#ifndef BK_SECRET_H
#define BK_SECRET_H

#include <stddef.h>

#include "err.h"

#define BK_SECRET_MAX	(64 * 1024)	/* largest secret accepted */

struct bk_secret {
	unsigned char	*data;	/* NUL-terminated for convenience */
	size_t		 len;	/* bytes, without the terminating NUL */
};

/*
 * Read a secret from the file at path.  The file must be a regular file
 * and must not be readable or writable by group or others (mode 0600 or
 * stricter); otherwise the read is refused (BK_EXIT_USAGE) with a message
 * that says how to fix it.  Files larger than BK_SECRET_MAX are refused.
 * On success s owns a heap buffer; free it with bk_secret_free().
 */
int	bk_secret_from_file(struct bk_secret *s, const char *path,
	    struct bk_err *err);

/* Read a secret from fd until end of file (fd is not closed). */
int	bk_secret_from_fd(struct bk_secret *s, int fd, struct bk_err *err);

/*
 * Take a secret from the environment variable name, then wipe the value
 * in this process's environment and unset it, so that child processes do
 * not inherit it.  Returns 1 if the variable was set, 0 if not (s is left
 * empty), -1 on error.
 */
int	bk_secret_from_env(struct bk_secret *s, const char *name,
	    struct bk_err *err);

/* Remove one trailing "\n" or "\r\n" (for passphrases read from files). */
void	bk_secret_chomp(struct bk_secret *s);

/* Wipe and free the secret; s is left empty.  Safe on an empty secret. */
void	bk_secret_free(struct bk_secret *s);

/* Wipe n bytes at p in a way the compiler cannot optimise away. */
void	bk_secret_wipe(void *p, size_t n);

/*
 * A passphrase from file (mode 0600 or stricter) if not NULL, else from
 * descriptor fd if >= 0, else, when use_env, from BK_PASSPHRASE (wiped
 * from the environment).  One trailing newline is dropped.  A file or
 * descriptor named, or the variable set, with nothing in it is an error:
 * "empty passphrase" (usage).  Returns 1 if a passphrase was read, 0 if
 * none was asked for, -1 with err.
 */
int	bk_secret_passphrase(const char *file, int fd, int use_env,
	    struct bk_secret *s, struct bk_err *err);

#endif
