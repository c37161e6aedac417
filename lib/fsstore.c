/*
 * fsstore.c - a filesystem as an object store (see fsstore.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fsstore.h"
#include "io.h"
#include "s3.h"

/* "." + base + ".XXXXXX" + BK_FS_TMP_SUFFIX */
#define TMP_RAND	6
#define TMP_EXTRA	(1 + 1 + TMP_RAND + sizeof(BK_FS_TMP_SUFFIX) - 1)
#define TMP_TRIES	100

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_alnum(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ENOTSUP and EOPNOTSUPP are one value on Linux, not everywhere. */
#define NAMEMAX		96	/* user.meta. and a --meta key */
#define VALUEMAX	2049	/* a --meta value (S3 allows 2 KiB) */

static int
unsupported(int e)
{
	return e == ENOTSUP || e == EOPNOTSUPP;
}

/* --- locations ------------------------------------------------------------ */

/* The length of a "scheme" followed by "://" at the start of s, or 0. */
static size_t
scheme_len(const char *s)
{
	size_t i;

	if (!is_alpha((unsigned char)s[0]))
		return 0;
	for (i = 1; is_alnum((unsigned char)s[i]) || s[i] == '+' ||
	    s[i] == '-' || s[i] == '.'; i++)
		;
	return strncmp(s + i, "://", 3) == 0 ? i : 0;
}

int
bk_fs_path(const char *loc, char **path, struct bk_err *err)
{
	const char *p, *host, *slash;
	char *out, *o;
	size_t n;
	int hi, lo;

	*path = NULL;
	if (loc == NULL || *loc == '\0')
		return bk_err_set(err, BK_EXIT_USAGE, "empty location");
	n = scheme_len(loc);
	if (strncasecmp(loc, "file:", 5) != 0) {
		if (n > 0)
			return bk_err_set(err, BK_EXIT_USAGE, "%s: not a "
			    "filesystem location (a %.*s:// URL)", loc,
			    (int)n, loc);
		if ((*path = strdup(loc)) == NULL)
			return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s",
			    loc);
		return 0;
	}

	p = loc + 5;
	if (strncmp(p, "//", 2) == 0) {
		host = p + 2;
		if ((slash = strchr(host, '/')) == NULL)
			return bk_err_set(err, BK_EXIT_USAGE, "%s: not an "
			    "absolute file URL (file:///path)", loc);
		n = (size_t)(slash - host);
		if (n != 0 && !(n == 9 && strncasecmp(host, "localhost", 9) ==
		    0))
			return bk_err_set(err, BK_EXIT_USAGE, "%s: a file URL "
			    "on host \"%.*s\" (only local files: "
			    "file:///path)", loc, (int)n, host);
		p = slash;
	} else if (*p != '/') {
		return bk_err_set(err, BK_EXIT_USAGE, "%s: not an absolute "
		    "file URL (file:///path)", loc);
	}

	if ((out = malloc(strlen(p) + 1)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", loc);
	for (o = out; *p != '\0'; p++) {
		if (*p == '?' || *p == '#') {
			free(out);
			return bk_err_set(err, BK_EXIT_USAGE, "%s: '%c' in a "
			    "file URL starts a %s (write %s for the "
			    "character)", loc, *p, *p == '?' ? "query" :
			    "fragment", *p == '?' ? "%3F" : "%23");
		}
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		if ((hi = hexval((unsigned char)p[1])) < 0 ||
		    (lo = hexval((unsigned char)p[2])) < 0) {
			free(out);
			return bk_err_set(err, BK_EXIT_USAGE, "%s: bad "
			    "percent escape in a file URL", loc);
		}
		if (hi == 0 && lo == 0) {
			free(out);
			return bk_err_set(err, BK_EXIT_USAGE, "%s: %%00 in a "
			    "file URL", loc);
		}
		*o++ = (char)(hi << 4 | lo);
		p += 2;
	}
	*o = '\0';
	*path = out;
	return 0;
}

int
bk_fs_url(const char *path, char **url, struct bk_err *err)
{
	static const char safe[] = "-._~!$&'()*+,;=:@/";
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char *o;

	*url = NULL;
	if (path == NULL || path[0] != '/')
		return bk_err_set(err, BK_EXIT_USAGE, "%s: not an absolute "
		    "path (a file URL needs one)", path ? path : "");
	if ((*url = malloc(7 + 3 * strlen(path) + 1)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", path);
	memcpy(*url, "file://", 7);
	o = *url + 7;
	for (p = (const unsigned char *)path; *p != '\0'; p++) {
		if (is_alnum(*p) || strchr(safe, *p) != NULL) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return 0;
}

/* --- directories ---------------------------------------------------------- */

/*
 * Split path into its directory (malloc'd into *dir: "." without a '/',
 * "/" for a top-level name) and its last component (*base, in path).
 */
static int
split(const char *path, char **dir, const char **base, struct bk_err *err)
{
	const char *s;
	size_t n;

	*dir = NULL;
	if (path == NULL || *path == '\0')
		return bk_err_set(err, BK_EXIT_USAGE, "empty path");
	s = strrchr(path, '/');
	*base = s != NULL ? s + 1 : path;
	if (**base == '\0' || strcmp(*base, ".") == 0 ||
	    strcmp(*base, "..") == 0)
		return bk_err_set(err, BK_EXIT_USAGE, "%s: names a directory, "
		    "not a file", path);
	if (s == NULL) {
		*dir = strdup(".");
	} else {
		n = (size_t)(s - path);
		while (n > 0 && path[n - 1] == '/')
			n--;
		*dir = strndup(path, n > 0 ? n : 1);
	}
	if (*dir == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", path);
	return 0;
}

/*
 * fsync an open directory.  Like PostgreSQL, take EINVAL and EBADF as
 * "this filesystem does not sync directories", not as a failure.
 */
static int
sync_dirfd(int dfd, const char *dir, struct bk_err *err)
{
	if (fsync(dfd) < 0 && errno != EINVAL && errno != EBADF)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "fsync %s",
		    dir);
	return 0;
}

static int
sync_dir(const char *dir, struct bk_err *err)
{
	int dfd, rc;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "open "
		    "directory %s", dir);
	rc = sync_dirfd(dfd, dir, err);
	close(dfd);
	return rc;
}

/*
 * mkdir -p dir, mode 0777 less the umask; each directory created is made
 * durable by an fsync of its parent.  A component that exists is taken as
 * it is (a file there makes the next step fail with ENOTDIR).
 */
static int
mkdirs(const char *dir, struct bk_err *err)
{
	char *p, *s, *e, save;
	int rc = 0;

	if ((p = strdup(dir)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", dir);
	for (s = p; *s == '/'; s++)
		;
	while (*s != '\0' && rc == 0) {
		if ((e = strchr(s, '/')) != NULL)
			*e = '\0';
		if (mkdir(p, 0777) == 0) {
			/* The parent is p up to the '/' before s. */
			if (s == p) {
				rc = sync_dir(".", err);
			} else if (s - p == 1) {
				rc = sync_dir("/", err);
			} else {
				save = s[-1];
				s[-1] = '\0';
				rc = sync_dir(p, err);
				s[-1] = save;
			}
		} else if (errno != EEXIST) {
			rc = bk_err_sys(err, BK_EXIT_RUNTIME, errno, "mkdir %s",
			    p);
		}
		if (e == NULL)
			break;
		*e = '/';
		for (s = e + 1; *s == '/'; s++)
			;
	}
	free(p);
	return rc;
}

/* Open dir (creating it and its parents if missing) for *at() calls and
 * fsync.  Returns the descriptor, or -1 with err. */
static int
open_dir(const char *dir, struct bk_err *err)
{
	int dfd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		if (mkdirs(dir, err) < 0)
			return -1;
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "open "
		    "directory %s", dir);
	return dfd;
}

/* --- storing -------------------------------------------------------------- */

static int
exists_err(const char *path, struct bk_err *err)
{
	return bk_err_set(err, BK_EXIT_CHECK, "%s: exists (--no-clobber)",
	    path);
}

static int
interrupted(struct bk_err *err)
{
	return bk_err_set(err, BK_EXIT_RUNTIME, "interrupted");
}

/*
 * Create the temporary file ".BASE.XXXXXX.bk-tmp" in dfd, O_EXCL, mode
 * 0666 less the umask (the kernel applies it, or a default ACL, as for
 * cp).  BASE is cut so that the name fits NAME_MAX.  name receives it.
 */
static int
make_tmp(int dfd, const char *dir, const char *base, char name[NAME_MAX + 1],
    struct bk_err *err)
{
	static const char az[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[TMP_RAND];
	char rnd[TMP_RAND + 1];
	struct timespec ts;
	unsigned long x;
	size_t bl = strlen(base), i;
	int tries, fd;

	if (bl > NAME_MAX - TMP_EXTRA)
		bl = NAME_MAX - TMP_EXTRA;
	for (tries = 0; tries < TMP_TRIES; tries++) {
		if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
			/* No entropy yet (early boot): O_EXCL keeps us
			 * safe, the name only has to differ. */
			clock_gettime(CLOCK_REALTIME, &ts);
			x = (unsigned long)ts.tv_nsec ^
			    (unsigned long)ts.tv_sec * 2654435761UL ^
			    (unsigned long)getpid() << 16 ^
			    (unsigned long)tries * 40503UL;
			for (i = 0; i < sizeof(r); i++, x >>= 6)
				r[i] = (unsigned char)x;
		}
		for (i = 0; i < TMP_RAND; i++)
			rnd[i] = az[r[i] % (sizeof(az) - 1)];
		rnd[TMP_RAND] = '\0';
		snprintf(name, NAME_MAX + 1, ".%.*s.%s%s", (int)bl, base, rnd,
		    BK_FS_TMP_SUFFIX);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "create "
			    "a temporary file in %s", dir);
	}
	return bk_err_set(err, BK_EXIT_RUNTIME, "create a temporary file in "
	    "%s: every name tried exists", dir);
}

static int
write_chunk(int fd, const char *buf, size_t n, const char *path,
    struct bk_err *err)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, buf, n);
		if (w < 0 && errno == EINTR) {
			if (bk_s3_cancel)
				return interrupted(err);
			continue;
		}
		if (w <= 0)
			return bk_err_sys(err, BK_EXIT_RUNTIME, w < 0 ? errno :
			    ENOSPC, "write %s", path);
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Record size, SHA-256 and seal on the temporary file, and o's user
 * metadata.  *recorded is 0 when the filesystem has no user extended
 * attributes: not an error, unless there is user metadata to record.
 */
static int
record(int fd, const struct bk_s3put_opts *o,
    const struct bk_s3put_result *res, int *recorded, const char *path,
    struct bk_err *err)
{
	char size[24], name[NAMEMAX];
	const char *own[3] = { BK_FS_XATTR_SIZE, BK_FS_XATTR_SHA256,
	    BK_FS_XATTR_SEAL };
	const char *value;
	size_t i, n = 3 + o->nmeta;

	*recorded = 0;
	snprintf(size, sizeof(size), "%llu", (unsigned long long)res->size);
	for (i = 0; i < n; i++) {
		if (i < 3) {
			snprintf(name, sizeof(name), "%s", own[i]);
			value = i == 0 ? size : i == 1 ? res->sha256 :
			    res->seal == BK_SEAL_OK ? "ok" :
			    res->seal == BK_SEAL_NONE ? "none" : "unsealed";
		} else {
			snprintf(name, sizeof(name), "%s%s", BK_FS_XATTR_META,
			    o->meta_keys[i - 3]);
			value = o->meta_values[i - 3];
		}
		if (fsetxattr(fd, name, value, strlen(value), 0) == 0)
			continue;
		if (!unsupported(errno) || o->nmeta > 0)
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s: "
			    "recording %s", path, name);
		/* Unsupported: record none rather than some. */
		while (i-- > 0)
			(void)fremovexattr(fd, own[i]);
		return 0;
	}
	*recorded = 1;
	return 0;
}

/*
 * Under no-clobber, before anything is read: 0 if the name base (in dfd)
 * is free; 2 if it holds the same content by o->same_meta; else -1 with
 * err (BK_EXIT_CHECK when it is taken).
 */
static int
taken(int dfd, const char *base, const char *path,
    const struct bk_s3put_opts *o, struct bk_err *err)
{
	char name[NAMEMAX], v[VALUEMAX];
	struct stat st;
	ssize_t n;
	int fd;

	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", path);
	}
	if (o->same_meta == NULL || !S_ISREG(st.st_mode))
		return exists_err(path, err);
	snprintf(name, sizeof(name), "%s%s", BK_FS_XATTR_META, o->same_meta);
	if ((fd = openat(dfd, base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", path);
	n = fgetxattr(fd, name, v, sizeof(v) - 1);
	close(fd);
	if (n >= 0) {
		v[n] = '\0';
		if (strcmp(v, o->same_value) == 0)
			return 2;
	}
	return bk_err_set(err, BK_EXIT_CHECK, "%s: exists, %s (--no-clobber)",
	    path, n < 0 ? "without the metadata to compare" :
	    "with other content");
}

/*
 * Give the temporary file tmp its final name base (both in dfd).  Under
 * no-clobber an existing file is never replaced.
 */
static int
commit(int dfd, const char *tmp, const char *base, const char *path,
    enum bk_s3put_clobber clobber, struct bk_err *err)
{
	struct stat st;

	if (clobber == BK_S3PUT_CLOBBER) {
		if (renameat(dfd, tmp, dfd, base) < 0)
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "rename "
			    "to %s", path);
		return 0;
	}
	if (renameat2(dfd, tmp, dfd, base, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return exists_err(path, err);
	if (errno != EINVAL && errno != ENOSYS)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "rename to %s",
		    path);

	/* No RENAME_NOREPLACE here (NFS, some FUSE): a link never
	 * replaces either. */
	if (linkat(dfd, tmp, dfd, base, 0) == 0) {
		/* Stored.  Should the unlink fail, the second name is a
		 * temporary one, which listings skip. */
		(void)unlinkat(dfd, tmp, 0);
		return 0;
	}
	if (errno == EEXIST)
		return exists_err(path, err);
	if (errno != EPERM && !unsupported(errno) && errno != ENOSYS)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "link to %s",
		    path);
	if (clobber != BK_S3PUT_NOCLOBBER_CHECK)
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s: the filesystem "
		    "can neither rename without replacing nor link; "
		    "--no-clobber=check checks before writing instead", path);
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return exists_err(path, err);
	if (errno != ENOENT)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", path);
	if (renameat(dfd, tmp, dfd, base) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "rename to %s",
		    path);
	return 0;
}

int
bk_fs_put(const char *path, int fd, enum bk_s3put_clobber clobber,
    bk_s3put_eof_fn eof, void *eofarg, bk_s3put_progress_fn progress,
    void *parg, struct bk_s3put_result *res, int *meta_recorded,
    struct bk_err *err)
{
	struct bk_s3put_opts o;

	memset(&o, 0, sizeof(o));
	o.clobber = clobber;
	return bk_fs_put_opts(path, fd, &o, eof, eofarg, progress, parg, res,
	    meta_recorded, err);
}

int
bk_fs_put_opts(const char *path, int fd, const struct bk_s3put_opts *o,
    bk_s3put_eof_fn eof, void *eofarg, bk_s3put_progress_fn progress,
    void *parg, struct bk_s3put_result *res, int *meta_recorded,
    struct bk_err *err)
{
	enum bk_s3put_clobber clobber = o->clobber;
	char tmp[NAME_MAX + 1], *dir = NULL, *buf = NULL;
	const char *base;
	EVP_MD_CTX *md = NULL;
	unsigned char dig[32];
	ssize_t n;
	int dfd = -1, tfd = -1, have_tmp = 0, recorded = 0, rc = -1, i, e;

	memset(res, 0, sizeof(*res));
	if (meta_recorded != NULL)
		*meta_recorded = 0;
	if (split(path, &dir, &base, err) < 0)
		goto out;
	if ((dfd = open_dir(dir, err)) < 0)
		goto out;
	/* Fail early, before reading anything, if the name is taken. */
	if (clobber != BK_S3PUT_CLOBBER &&
	    (i = taken(dfd, base, path, o, err)) != 0) {
		if (i == 2)
			rc = bk_s3put_skip(fd, path, eof, eofarg, progress,
			    parg, res, err);
		goto out;
	}
	if ((buf = malloc(BK_FS_CHUNK)) == NULL ||
	    (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", path);
		goto out;
	}
	if ((tfd = make_tmp(dfd, dir, base, tmp, err)) < 0)
		goto out;
	have_tmp = 1;

	do {
		if ((n = bk_io_read_stop(fd, buf, BK_FS_CHUNK, &bk_s3_cancel,
		    progress, parg, "reading input", err)) < 0)
			goto out;
		if (n == 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
		res->size += (uint64_t)n;
		if (write_chunk(tfd, buf, (size_t)n, path, err) < 0)
			goto out;
	} while ((size_t)n == BK_FS_CHUNK);
	if (bk_s3_cancel) {
		interrupted(err);
		goto out;
	}

	/* A clean end of input: did the upstream succeed? */
	EVP_DigestFinal_ex(md, dig, NULL);
	for (i = 0; i < 32; i++)
		snprintf(res->sha256 + 2 * i, 3, "%02x", dig[i]);
	res->seal = BK_SEAL_NONE;
	if (eof != NULL && eof(eofarg, &res->seal, err) < 0)
		goto out;
	if (res->seal == BK_SEAL_FAILED) {
		bk_err_set(err, BK_EXIT_UPSTREAM, "upstream failed: nothing "
		    "stored at %s", path);
		goto out;
	}

	if (record(tfd, o, res, &recorded, path, err) < 0)
		goto out;
	if (fsync(tfd) < 0) {
		bk_err_sys(err, BK_EXIT_RUNTIME, errno, "fsync %s", path);
		goto out;
	}
	i = tfd;
	tfd = -1;
	if (bk_io_close(i, path, err) < 0)
		goto out;
	/* The last moment a cancel can stop the store. */
	if (bk_s3_cancel) {
		interrupted(err);
		goto out;
	}
	if (commit(dfd, tmp, base, path, clobber, err) < 0)
		goto out;
	have_tmp = 0;

	if (sync_dirfd(dfd, dir, err) < 0) {
		/* The file may not survive a crash: take it back rather
		 * than report a failure and leave it (bk_s3put() does the
		 * same with an object it could not record). */
		e = err != NULL ? err->sys : EIO;
		if (unlinkat(dfd, base, 0) == 0) {
			(void)fsync(dfd);
			bk_err_prefix(err, "nothing stored at %s", path);
		} else {
			bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s: fsync %s "
			    "failed (%s), and removing the file failed", path,
			    dir, strerror(e));
		}
		goto out;
	}
	if (meta_recorded != NULL)
		*meta_recorded = recorded;
	rc = 0;
out:
	if (tfd >= 0)
		close(tfd);
	if (have_tmp)
		(void)unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		close(dfd);
	free(buf);
	free(dir);
	EVP_MD_CTX_free(md);
	return rc;
}

/* --- reading metadata ----------------------------------------------------- */

static ssize_t
get_attr(int fd, const char *path, const char *name, char *buf, size_t size)
{
	return fd >= 0 ? fgetxattr(fd, name, buf, size) :
	    getxattr(path, name, buf, size);
}

/* Decimal, no sign, no leading zeros, no overflow. */
static int
parse_u64(const char *s, size_t n, uint64_t *v)
{
	size_t i;

	if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    *v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

static int
bad_attr(const char *path, const char *name, struct bk_err *err)
{
	return bk_err_set(err, BK_EXIT_CHECK, "%s: bad %s attribute", path,
	    name);
}

/*
 * One attribute into v (NUL-terminated): returns its length, -2 if it is
 * absent (or the filesystem has no attributes), -1 with err otherwise.
 */
static ssize_t
attr(int fd, const char *path, const char *name, char *v, size_t size,
    struct bk_err *err)
{
	ssize_t n;

	n = get_attr(fd, path, name, v, size - 1);
	if (n >= 0) {
		v[n] = '\0';
		if (strlen(v) != (size_t)n)
			return bad_attr(path, name, err);
		return n;
	}
	if (errno == ENODATA || unsupported(errno))
		return -2;
	if (errno == ERANGE)
		return bad_attr(path, name, err);
	return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s: reading %s", path,
	    name);
}

static int
read_meta(int fd, const char *path, const struct stat *st,
    struct bk_fs_meta *m, struct bk_err *err)
{
	char v[80];
	ssize_t n;
	int have_size, have_sha, have_seal, i;

	memset(m, 0, sizeof(*m));
	if (!S_ISREG(st->st_mode))
		return bk_err_set(err, BK_EXIT_CHECK, "%s: not a regular "
		    "file", path);
	m->size = (uint64_t)st->st_size;
	m->mtime = st->st_mtime;

	if ((n = attr(fd, path, BK_FS_XATTR_SIZE, v, sizeof(v), err)) == -1)
		return -1;
	if ((have_size = n >= 0) && parse_u64(v, (size_t)n, &m->rec_size) < 0)
		return bad_attr(path, BK_FS_XATTR_SIZE, err);

	if ((n = attr(fd, path, BK_FS_XATTR_SHA256, v, sizeof(v), err)) == -1)
		return -1;
	if ((have_sha = n >= 0)) {
		if (n != 64)
			return bad_attr(path, BK_FS_XATTR_SHA256, err);
		for (i = 0; i < 64; i++)
			if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' &&
			    v[i] <= 'f')))
				return bad_attr(path, BK_FS_XATTR_SHA256, err);
		memcpy(m->sha256, v, 65);
	}

	if ((n = attr(fd, path, BK_FS_XATTR_SEAL, v, sizeof(v), err)) == -1)
		return -1;
	if ((have_seal = n >= 0)) {
		if (strcmp(v, "ok") != 0 && strcmp(v, "unsealed") != 0 &&
		    strcmp(v, "none") != 0)
			return bad_attr(path, BK_FS_XATTR_SEAL, err);
		snprintf(m->seal, sizeof(m->seal), "%.15s", v);
	}

	if ((have_size || have_sha || have_seal) && !(have_size && have_sha))
		return bk_err_set(err, BK_EXIT_CHECK, "%s: %s attribute "
		    "missing", path, have_size ? BK_FS_XATTR_SHA256 :
		    BK_FS_XATTR_SIZE);
	m->has_meta = have_size && have_sha;
	return 0;
}

static int
no_file(const char *path, int e, const char *what, struct bk_err *err)
{
	if (e == ENOENT || e == ENOTDIR)
		return bk_err_set(err, BK_EXIT_CHECK, "%s: no such file",
		    path);
	return bk_err_sys(err, BK_EXIT_RUNTIME, e, "%s %s", what, path);
}

int
bk_fs_stat(const char *path, struct bk_fs_meta *m, struct bk_err *err)
{
	struct stat st;

	memset(m, 0, sizeof(*m));
	if (path == NULL || *path == '\0')
		return bk_err_set(err, BK_EXIT_USAGE, "empty path");
	if (stat(path, &st) < 0)
		return no_file(path, errno, "stat", err);
	return read_meta(-1, path, &st, m, err);
}

int
bk_fs_open(const char *path, int *fd, struct bk_fs_meta *m,
    struct bk_err *err)
{
	struct stat st;
	int f, fl;

	*fd = -1;
	memset(m, 0, sizeof(*m));
	if (path == NULL || *path == '\0')
		return bk_err_set(err, BK_EXIT_USAGE, "empty path");
	/* O_NONBLOCK: a FIFO must be refused, not waited on. */
	if ((f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) <
	    0)
		return no_file(path, errno, "open", err);
	if (fstat(f, &st) < 0) {
		bk_err_sys(err, BK_EXIT_RUNTIME, errno, "stat %s", path);
		close(f);
		return -1;
	}
	if (read_meta(f, path, &st, m, err) < 0) {
		close(f);
		return -1;
	}
	if ((fl = fcntl(f, F_GETFL)) < 0 ||
	    fcntl(f, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		bk_err_sys(err, BK_EXIT_RUNTIME, errno, "open %s", path);
		close(f);
		return -1;
	}
	*fd = f;
	return 0;
}

/* --- listing -------------------------------------------------------------- */

struct ent {
	char		*name;
	int		 isdir;
	uint64_t	 size;
	time_t		 mtime;
};

struct lister {
	bk_fs_list_fn	 fn;
	void		*arg;
	char		*path;		/* the path being built */
	size_t		 len;
	size_t		 cap;
};

/*
 * Order entries as their whole paths will sort: a directory's name
 * compares as if followed by '/', so that file "a-b" comes before
 * directory "a" (whose paths start "a/") and "a0" after it.
 */
static int
ent_cmp(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;
	const unsigned char *p = (const unsigned char *)a->name;
	const unsigned char *q = (const unsigned char *)b->name;
	int ca, cb;

	while (*p != '\0' && *p == *q)
		p++, q++;
	ca = *p != '\0' ? *p : a->isdir ? '/' : 0;
	cb = *q != '\0' ? *q : b->isdir ? '/' : 0;
	return ca - cb;
}

/* bk_fs_put()'s temporary names: ".BASE.XXXXXX.bk-tmp", BASE not empty. */
static int
is_tmp(const char *name)
{
	size_t n = strlen(name), s = sizeof(BK_FS_TMP_SUFFIX) - 1, i;

	if (name[0] != '.' || n < TMP_EXTRA + 1 ||
	    strcmp(name + n - s, BK_FS_TMP_SUFFIX) != 0 ||
	    name[n - s - TMP_RAND - 1] != '.')
		return 0;
	for (i = n - s - TMP_RAND; i < n - s; i++)
		if (!is_alnum((unsigned char)name[i]))
			return 0;
	return 1;
}

/* Append name (and a '/' after a directory) to the path being built. */
static int
push(struct lister *l, const char *name, int isdir, struct bk_err *err)
{
	size_t n = strlen(name), need = l->len + n + 2;
	char *p;

	if (need > l->cap) {
		if ((p = realloc(l->path, need * 2)) == NULL)
			return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "list");
		l->path = p;
		l->cap = need * 2;
	}
	memcpy(l->path + l->len, name, n);
	l->len += n;
	if (isdir)
		l->path[l->len++] = '/';
	l->path[l->len] = '\0';
	return 0;
}

/*
 * List the directory open as dfd (its path, with a trailing '/' or
 * empty for ".", is l->path), only names starting with filter if not
 * NULL.  Takes dfd over.
 */
static int
list_dir(struct lister *l, int dfd, const char *filter, struct bk_err *err)
{
	DIR *d;
	struct dirent *de;
	struct ent *v = NULL, *nv;
	struct stat st;
	size_t n = 0, cap = 0, i, flen = filter != NULL ? strlen(filter) : 0;
	size_t len = l->len;
	const char *shown = l->len > 0 ? l->path : ".";
	int rc = -1, cfd;

	if ((d = fdopendir(dfd)) == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, errno, "open directory %s",
		    shown);
		close(dfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				bk_err_sys(err, BK_EXIT_RUNTIME, errno, "read "
				    "directory %s", shown);
				goto out;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 || is_tmp(de->d_name) ||
		    (filter != NULL && strncmp(de->d_name, filter, flen) != 0))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			bk_err_sys(err, BK_EXIT_RUNTIME, errno, "stat %s%s",
			    l->path, de->d_name);
			goto out;
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "list");
				goto out;
			}
			v = nv;
		}
		if ((v[n].name = strdup(de->d_name)) == NULL) {
			bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "list");
			goto out;
		}
		v[n].isdir = S_ISDIR(st.st_mode);
		v[n].size = (uint64_t)st.st_size;
		v[n].mtime = st.st_mtime;
		n++;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), ent_cmp);

	for (i = 0; i < n; i++) {
		if (push(l, v[i].name, v[i].isdir, err) < 0)
			goto out;
		if (!v[i].isdir) {
			if (l->fn(l->arg, l->path, v[i].size, v[i].mtime,
			    err) < 0)
				goto out;
		} else if ((cfd = openat(dirfd(d), v[i].name, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			if (list_dir(l, cfd, NULL, err) < 0)
				goto out;
		} else if (errno != ENOENT && errno != ENOTDIR &&
		    errno != ELOOP) {
			/* Gone, or replaced by a file or a link since it
			 * was read: left out.  Anything else cuts the
			 * listing short. */
			bk_err_sys(err, BK_EXIT_RUNTIME, errno, "open "
			    "directory %s", l->path);
			goto out;
		}
		l->len = len;
		l->path[len] = '\0';
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	closedir(d);
	return rc;
}

int
bk_fs_list(const char *prefix, bk_fs_list_fn fn, void *arg,
    struct bk_err *err)
{
	struct lister l;
	const char *slash, *filter = NULL, *dir;
	char *pdir = NULL;
	size_t plen;
	int dfd, rc = -1;

	memset(&l, 0, sizeof(l));
	l.fn = fn;
	l.arg = arg;
	if (prefix == NULL || *prefix == '\0')
		return bk_err_set(err, BK_EXIT_USAGE, "empty prefix");
	plen = strlen(prefix);

	/* A directory, named with or without a trailing '/'; else a
	 * filtering prefix, whose parent is listed. */
	dir = prefix;
	dfd = open(prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && (errno == ENOENT || errno == ENOTDIR) &&
	    prefix[plen - 1] != '/') {
		slash = strrchr(prefix, '/');
		filter = slash != NULL ? slash + 1 : prefix;
		pdir = slash != NULL ? strndup(prefix, (size_t)(slash -
		    prefix) + 1) : strdup(".");
		if (pdir == NULL)
			return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "list");
		dir = pdir;
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			bk_err_set(err, BK_EXIT_CHECK, "%s: no such directory",
			    dir);
		else
			bk_err_sys(err, BK_EXIT_RUNTIME, errno, "open directory "
			    "%s", dir);
		goto out;
	}
	/* The path shown: the directory with a '/', or nothing for the
	 * "." of a prefix without one. */
	if (filter != NULL && strchr(prefix, '/') == NULL)
		rc = push(&l, "", 0, err);
	else
		rc = push(&l, dir, dir[strlen(dir) - 1] != '/', err);
	if (rc < 0) {
		close(dfd);
		goto out;
	}
	rc = list_dir(&l, dfd, filter, err);
out:
	free(pdir);
	free(l.path);
	return rc;
}

/* --- deleting ------------------------------------------------------------- */

int
bk_fs_delete(const char *path, int missing_ok, struct bk_err *err)
{
	const char *base;
	char *dir;
	int rc;

	if (split(path, &dir, &base, err) < 0)
		return -1;
	if (unlink(path) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			rc = missing_ok ? 0 : bk_err_set(err, BK_EXIT_CHECK,
			    "%s: no such file", path);
		else
			rc = bk_err_sys(err, BK_EXIT_RUNTIME, errno, "delete %s",
			    path);
	} else {
		rc = sync_dir(dir, err);
	}
	free(dir);
	return rc;
}
