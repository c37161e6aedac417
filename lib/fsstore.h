/*
 * fsstore.h - a filesystem as an object store: what bk-s3put, bk-s3get,
 * bk-s3ls, bk-prune and bk-age do with file:// URLs and plain paths.
 *
 * The semantics are S3's, on files:
 *
 *   - A store is atomic.  The stream goes into a temporary file beside the
 *     final one (".NAME.XXXXXX.bk-tmp"), which is fsync'd, renamed over
 *     the final name, and the directory fsync'd.  On any failure (I/O
 *     error, a full disk, an upstream that failed, a cancel) the temporary
 *     file is removed and nothing appears at the final name.  A process
 *     killed outright (SIGKILL, a crash) can leave a temporary file behind;
 *     listings skip them and they may be removed at any time.
 *   - Keys with '/' need no directories: missing parent directories are
 *     created (mkdir -p), and stay when a store fails.
 *   - The stream's size, SHA-256 and seal state are recorded with the file
 *     as extended attributes user.bk.size (decimal), user.bk.sha256 (lower
 *     case hex) and user.bk.seal ("ok", "unsealed" or "none"), like the
 *     x-amz-meta-bk-* metadata of an S3 object.  On a filesystem without
 *     user extended attributes the file is stored without them and the
 *     caller is told so (a warning: bk-s3get then has nothing to check).
 *   - A listing is every regular file under a prefix, in byte order of the
 *     path, like ListObjectsV2.  A listing cut short by an error is an
 *     error, never a short answer.
 *
 * No function changes the umask or the working directory, or keeps
 * state between calls: they may run in several threads at once.
 */
#ifndef BK_FSSTORE_H
#define BK_FSSTORE_H

#include <stdint.h>
#include <time.h>

#include "err.h"
#include "s3put.h"
#include "seal.h"

#define BK_FS_CHUNK		(1 << 20)	/* bytes per write */
#define BK_FS_TMP_SUFFIX	".bk-tmp"

/* The extended attributes bk_fs_put() records. */
#define BK_FS_XATTR_SIZE	"user.bk.size"
#define BK_FS_XATTR_SHA256	"user.bk.sha256"
#define BK_FS_XATTR_SEAL	"user.bk.seal"

/*
 * Turn a location into a path: "file:///abs/path", "file://localhost/abs"
 * and "file:/abs" (RFC 8089) are percent-decoded ("%20" is a blank, "%2F"
 * a '/'); anything else not of the form "scheme://..." is a plain path,
 * taken byte for byte as it is (no decoding; "./x://y" is a way to name
 * a relative path that looks like a URL).  Refused with BK_EXIT_USAGE: an
 * empty location, a file URL with a host other than "localhost"
 * ("file://host/x"), a relative file URL ("file://x", "file:x"), a bad
 * or truncated escape, an escaped NUL ("%00"), an unescaped '?' or '#'
 * (a query or fragment: write %3F and %23), and any other scheme
 * ("s3://", "http://": not a filesystem location).  A trailing '/' is
 * kept (a listing prefix).  On success *path is a malloc'd string the
 * caller frees.  Returns 0, or -1 with err.
 */
int	bk_fs_path(const char *loc, char **path, struct bk_err *err);

/*
 * The inverse: the file:// URL of an absolute path, percent-encoding
 * every byte but letters, digits, '/' and -._~!$&'()*+,;=:@ (so a blank
 * is "%20", a '%' "%25", a control character or a byte above 0x7f
 * "%XX").  bk_fs_path() gives the path back byte for byte.  On success
 * *url is a malloc'd string the caller frees.  Returns 0, or -1 with err
 * (BK_EXIT_USAGE for a relative path, BK_EXIT_RUNTIME out of memory).
 */
int	bk_fs_url(const char *path, char **url, struct bk_err *err);

/*
 * Read fd to end of file and store its bytes at path, atomically (see
 * above).  The temporary file is created O_EXCL with mode 0666 less the
 * umask (as cp(1) creates files); the bytes are written in chunks of
 * BK_FS_CHUNK while their SHA-256 and size are computed; progress (may
 * be NULL) is called with the bytes of each read.  bk_s3_cancel is
 * checked between reads and whenever a read or write is interrupted: a
 * cancel fails the store ("interrupted").  At a clean end of input,
 * eof(eofarg, &state, err) tells how the upstream ended (NULL: state
 * BK_SEAL_NONE); a failed upstream fails the store with BK_EXIT_UPSTREAM
 * ("upstream failed: nothing stored at PATH"), and an eof that returns
 * -1 fails it with eof's error.
 *
 * With clobber BK_S3PUT_CLOBBER an existing file at path is replaced
 * (rename(2)).  Otherwise an existing file is never replaced: the store
 * fails with BK_EXIT_CHECK ("PATH: exists (--no-clobber)") before reading
 * a byte if path exists, and again at the commit if it appeared
 * meanwhile, which uses renameat2(RENAME_NOREPLACE), or link(2) then
 * unlink(2) where the filesystem lacks it.  Where it lacks both, only
 * BK_S3PUT_NOCLOBBER_CHECK goes on, with a check just before a plain
 * rename (like S3 without conditional writes); BK_S3PUT_NOCLOBBER fails.
 *
 * On success res is filled (size, sha256, seal; parts and part_size are
 * 0) and *meta_recorded (may be NULL) is 1, or 0 when the filesystem
 * refused user extended attributes (ENOTSUP): the file is stored without
 * its size and SHA-256, which the caller should report as a warning.
 * Returns 0 once the file is at path and its directory entry is on disk.
 * Returns -1 with err otherwise, and then nothing was stored at path by
 * this call (a failure to fsync the directory after the rename takes the
 * new file back, as bk_s3put() deletes an object it could not record):
 * BK_EXIT_USAGE for a path without a file name ("dir/", ""),
 * BK_EXIT_UPSTREAM and BK_EXIT_CHECK as above, BK_EXIT_RUNTIME for I/O
 * failures, a cancel and a failed eof.
 */
int	bk_fs_put(const char *path, int fd, enum bk_s3put_clobber clobber,
	    bk_s3put_eof_fn eof, void *eofarg, bk_s3put_progress_fn progress,
	    void *parg, struct bk_s3put_result *res, int *meta_recorded,
	    struct bk_err *err);

/*
 * bk_fs_put() with the clobber, user metadata and same-content options of
 * o (its headers aside): each o->meta_keys[i] is recorded as the extended
 * attribute user.meta.KEY, and a filesystem without them is then an error
 * (BK_EXIT_RUNTIME), not a warning.  Under no-clobber with o->same_meta,
 * an existing file whose user.meta.SAME is o->same_value is the same
 * content: the input is read to its end (bk_s3put_skip()) and 0 returned
 * with res->skipped; another value, or none, fails with BK_EXIT_CHECK.
 */
#define BK_FS_XATTR_META	"user.meta."
int	bk_fs_put_opts(const char *path, int fd, const struct bk_s3put_opts *o,
	    bk_s3put_eof_fn eof, void *eofarg, bk_s3put_progress_fn progress,
	    void *parg, struct bk_s3put_result *res, int *meta_recorded,
	    struct bk_err *err);

/* What a stored file is and what bk_fs_put() recorded about it. */
struct bk_fs_meta {
	uint64_t	size;		/* st_size */
	time_t		mtime;		/* st_mtime */
	int		has_meta;	/* user.bk.size and .sha256 found */
	uint64_t	rec_size;	/* user.bk.size, if has_meta */
	char		sha256[65];	/* user.bk.sha256, if has_meta */
	char		seal[16];	/* user.bk.seal, or "" */
};

/*
 * Fill m for the file at path (symbolic links followed).  The recorded
 * attributes are checked: size and SHA-256 both present and well formed
 * (decimal without leading zeros; 64 lower case hex digits), the seal
 * absent or one of "ok", "unsealed", "none"; has_meta is 0 when none are
 * there or the filesystem has no extended attributes.  Returns 0, or -1
 * with err: BK_EXIT_CHECK for "PATH: no such file", "PATH: not a regular
 * file" and malformed or partial attributes ("PATH: bad user.bk.size
 * attribute"), BK_EXIT_RUNTIME for other errors.
 */
int	bk_fs_stat(const char *path, struct bk_fs_meta *m, struct bk_err *err);

/*
 * Open the file at path for reading and fill m from the open file, so
 * that the metadata and the bytes read are those of one file even if
 * path is replaced meanwhile (what bk-s3get wants).  Errors as
 * bk_fs_stat() (a FIFO or device is "not a regular file" and is not
 * waited on).  Returns 0 with *fd open (O_CLOEXEC; the caller closes
 * it), or -1 with err and *fd == -1.
 */
int	bk_fs_open(const char *path, int *fd, struct bk_fs_meta *m,
	    struct bk_err *err);

/*
 * Called per file by bk_fs_list(), in byte order of path.  Return 0, or
 * -1 with err filled to stop the listing (bk_fs_list() returns -1 with
 * that error).  path is valid only during the call.
 */
typedef int	(*bk_fs_list_fn)(void *arg, const char *path, uint64_t size,
	    time_t mtime, struct bk_err *err);

/*
 * List the regular files under prefix, recursively, calling fn for each
 * in byte order of the whole path (strcmp(3); "a-b" comes before "a/x").
 * A prefix ending in '/' or naming an existing directory (the name itself
 * may be a symbolic link) lists that directory's tree; any other prefix
 * lists the tree of its parent directory (".", when it has no '/')
 * filtered to paths that start with prefix, as an S3 prefix would
 * ("/b/db-2025" gives "/b/db-2025-01.gz" and "/b/db-2025x/y").  Paths are
 * the prefix joined with the names below it, with a '/' added after a
 * directory prefix that lacks one.
 *
 * Inside the tree symbolic links are neither followed nor listed (to a
 * file or a directory alike: bk stores only regular files, a link is a
 * user's pointer such as "latest", and a retention tool must not count
 * it as a backup nor delete it instead of its target).  FIFOs, sockets
 * and devices are not listed, nor are bk_fs_put()'s temporary files
 * (".NAME.XXXXXX.bk-tmp", six letters or digits: a user's ".notes.bk-tmp"
 * is listed).  Other dot files are listed.  A file or directory removed
 * while the listing runs is left out.
 *
 * Returns 0 (also when nothing matched), or -1 with err: BK_EXIT_CHECK
 * for "DIR: no such directory" (the directory listed, or the parent of a
 * filtering prefix, does not exist or is not a directory), BK_EXIT_USAGE
 * for an empty prefix, BK_EXIT_RUNTIME when any directory in the tree
 * cannot be opened or read (a listing cut short is an error: no partial
 * answer), or fn's error.
 */
int	bk_fs_list(const char *prefix, bk_fs_list_fn fn, void *arg,
	    struct bk_err *err);

/*
 * Delete the file at path (unlink(2): a symbolic link itself, never its
 * target) and fsync its directory.  Directories are never removed, not
 * even when they become empty.  A missing file is success when
 * missing_ok, else BK_EXIT_CHECK ("PATH: no such file").  Returns 0, or -1
 * with err (BK_EXIT_RUNTIME for other failures, a directory among them).
 */
int	bk_fs_delete(const char *path, int missing_ok, struct bk_err *err);

#endif
