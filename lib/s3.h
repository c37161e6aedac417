/*
 * s3.h - an S3 client on libcurl: signed requests with retries, and the
 * operations bk's storage tools need.
 *
 * One struct bk_s3 is one connection (a curl handle that keeps its
 * connection alive between requests); a thread uses its own.  Every
 * request is signed with SigV4 (the hex SHA-256 of the body, every x-amz-*
 * header signed) and retried on network errors, 5xx but 501, 429,
 * SlowDown and RequestTimeout with exponential backoff and full jitter.  TLS
 * certificates are verified.
 */
#ifndef BK_S3_H
#define BK_S3_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aws.h"
#include "err.h"
#include "sigv4.h"

#define BK_S3_RETRIES		8		/* after the first attempt */
#define BK_S3_BODYMAX		(4 * 1024 * 1024) /* a response kept in memory */
#define BK_S3_META_MAX		32
#define BK_S3_PART_MAX		(5ULL << 30)	/* S3's part and PUT limit */
#define BK_S3_PART_MIN		(5ULL << 20)
#define BK_S3_PARTS_MAX		10000

/* Set from a signal handler: every request in flight stops, no new one
 * starts, backoff sleeps end. */
extern volatile sig_atomic_t	bk_s3_cancel;

/*
 * Make SIGINT, SIGTERM and SIGHUP set bk_s3_cancel to the signal's
 * number, without SA_RESTART, so that a read waiting on stdin returns:
 * transfers stop and a multipart upload is aborted.
 */
void	bk_s3_catch_signals(void);

/* Where an s3:// location points. */
struct bk_s3_loc {
	char	*bucket;
	char	*key;		/* raw, may be "" (a prefix may end in '/') */
};

/*
 * Parse "s3://bucket/key" (the key raw: no percent-decoding).  Returns 0,
 * or -1 (usage) for a malformed URL or bucket name.  Free with
 * bk_s3_loc_free().
 */
int	bk_s3_loc_parse(struct bk_s3_loc *l, const char *url,
	    struct bk_err *err);
void	bk_s3_loc_free(struct bk_s3_loc *l);

struct bk_s3 {
	struct bk_aws	*aws;
	void		*curl;		/* CURL * */
	unsigned	 retries;
	double		 stall;		/* seconds without progress */
	unsigned	 seed;		/* jitter */
	int		 verbose;	/* log requests on stderr (-v -v) */
};

/* A response header x-amz-meta-NAME (name lower case, without prefix). */
struct bk_s3_meta {
	char	*name;
	char	*value;
};

struct bk_s3_resp {
	long			 status;
	char			*body;		/* NUL-terminated, unless a sink */
	size_t			 len;
	char			 etag[130];
	char			 request_id[130];
	char			 last_modified[64];	/* HTTP date */
	uint64_t		 content_length;
	uint64_t		 total;		/* of Content-Range, else 0 */
	int			 have_length;
	char			 code[64];	/* S3 error Code, "" */
	char			 message[256];	/* S3 error Message */
	struct bk_s3_meta	 meta[BK_S3_META_MAX];
	size_t			 nmeta;
	uint64_t		 delivered;	/* body bytes given to the sink */
	unsigned		 attempts;	/* requests sent (1: no retry) */
};

/*
 * Called with body bytes of a 2xx response.  Return 0, or -1 (err filled)
 * to stop the transfer.
 */
typedef int	(*bk_s3_sink_fn)(void *arg, const void *data, size_t len,
	    struct bk_err *err);

/* A request.  Pointers stay the caller's. */
struct bk_s3_req {
	const char			*method;
	const char			*bucket;
	const char			*key;		/* NULL: the bucket */
	const struct bk_sigv4_param	*query;
	size_t				 nquery;
	const struct bk_sigv4_header	*headers;	/* signed */
	size_t				 nheaders;
	const void			*body;
	size_t				 len;
	const char			*sha256;	/* hex of body, or NULL */
	bk_s3_sink_fn			 sink;		/* GET bodies */
	void				*sink_arg;
	int				 ok404;		/* 404 is an answer */
	int				 body_may_fail;	/* a 200 may carry <Error> */
};

/* Open a connection object on a's configuration.  Returns 0 or -1. */
int	bk_s3_open(struct bk_s3 *s, struct bk_aws *a, struct bk_err *err);
void	bk_s3_close(struct bk_s3 *s);

/*
 * Send q, retrying what can be retried, and fill r (free its contents
 * with bk_s3_resp_free(); it is reset first).  Returns 0 on a 2xx (and a
 * 404 when q->ok404), else -1 with err: "METHOD s3://b/k: HTTP 403
 * AccessDenied: Access Denied (request id R)" or the network error.  With
 * a sink, a failure after some bytes were delivered is not retried here
 * (r->delivered says how many): the caller resumes with a Range.
 */
int	bk_s3_request(struct bk_s3 *s, const struct bk_s3_req *q,
	    struct bk_s3_resp *r, struct bk_err *err);
void	bk_s3_resp_free(struct bk_s3_resp *r);

/*
 * bk_s3_request() for the common case: a body in memory (or none), no
 * sink.  flags: BK_S3_OK404 (a 404 is an answer), BK_S3_MAYFAIL (a 200
 * may carry an <Error>).
 */
#define BK_S3_OK404	0x01
#define BK_S3_MAYFAIL	0x02
int	bk_s3_call(struct bk_s3 *s, const char *method, const char *bucket,
	    const char *key, const struct bk_sigv4_param *qp, size_t nq,
	    const struct bk_sigv4_header *h, size_t nh, const void *body,
	    size_t len, int flags, struct bk_s3_resp *r, struct bk_err *err);

/* The value of x-amz-meta-name in r, or NULL. */
const char *bk_s3_meta_get(const struct bk_s3_resp *r, const char *name);

/*
 * Parse an S3 <Error> document (code, message and request id into r).
 * Returns 1 if doc is one, 0 if not.
 */
int	bk_s3_parse_error(const char *doc, size_t len, struct bk_s3_resp *r);

/* Sleep secs seconds, or less if bk_s3_cancel is set meanwhile. */
void	bk_s3_nap(double secs);

/* Backoff before retry number n (0-based): full jitter on an exponential
 * ceiling of 200 ms x 2^n, at most 20 s; in seconds. */
double	bk_s3_backoff(unsigned n, unsigned *seed);

/* --- listing -------------------------------------------------------------- */

struct bk_s3_obj {
	char		*key;
	uint64_t	 size;
	time_t		 mtime;
	char		 etag[130];
};

/* Called per object, in key order.  Return 0, or -1 to stop. */
typedef int	(*bk_s3_list_fn)(void *arg, const struct bk_s3_obj *o,
	    struct bk_err *err);

/*
 * List every object under prefix (ListObjectsV2, all pages).  The
 * companion KEY.sha256 that bk-s3put writes beside a multipart object KEY
 * is left out unless flags has BK_S3_LIST_RECORDS.  Returns 0, or -1 with
 * err; a listing cut short by an error is an error, never a short
 * answer.  BK_S3_PAGE_SIZE sets max-keys (tests).
 */
#define BK_S3_LIST_RECORDS	0x01
int	bk_s3_list(struct bk_s3 *s, const char *bucket, const char *prefix,
	    int flags, bk_s3_list_fn fn, void *arg, struct bk_err *err);

/*
 * Spot companions in a listing in key order: returns 1 if key is
 * "K.sha256" and K came before it, else 0 (or -1 out of memory).  Keys
 * between K and K.sha256 all extend K, so a chain of the keys that are
 * prefixes of the current one is all it needs to remember.
 */
struct bk_s3_chain {
	char	**key;
	size_t	  n;
	size_t	  cap;
};
int	bk_s3_chain_companion(struct bk_s3_chain *c, const char *key);
void	bk_s3_chain_free(struct bk_s3_chain *c);

/* Multipart uploads in progress under prefix. */
struct bk_s3_upload {
	char	*key;
	char	*upload_id;
	time_t	 initiated;
};
typedef int	(*bk_s3_uploads_fn)(void *arg, const struct bk_s3_upload *u,
	    struct bk_err *err);
int	bk_s3_list_uploads(struct bk_s3 *s, const char *bucket,
	    const char *prefix, bk_s3_uploads_fn fn, void *arg,
	    struct bk_err *err);

/*
 * HEAD bucket/key into r (free it with bk_s3_resp_free()).  Returns 0
 * with r->status 200 or 404, or -1 with err.
 */
int	bk_s3_head(struct bk_s3 *s, const char *bucket, const char *key,
	    struct bk_s3_resp *r, struct bk_err *err);

/*
 * Delete n keys (at most BK_S3_DELETE_MAX) with one DeleteObjects
 * request.  A key that does not exist counts as deleted.  Returns the
 * number of keys the server refused to delete (each reported through
 * failed(arg, key, code, message) when failed is not NULL; the request
 * itself succeeded), or -1 with err when the request failed.
 */
#define BK_S3_DELETE_MAX	1000
typedef void	(*bk_s3_delete_fn)(void *arg, const char *key,
	    const char *code, const char *message);
int	bk_s3_delete(struct bk_s3 *s, const char *bucket,
	    const char *const *keys, size_t n, bk_s3_delete_fn failed,
	    void *arg, struct bk_err *err);

/* Abort the multipart upload id of bucket/key; one that is gone already
 * (404 NoSuchUpload) counts as aborted.  Returns 0 or -1. */
int	bk_s3_abort(struct bk_s3 *s, const char *bucket, const char *key,
	    const char *upload_id, struct bk_err *err);

/*
 * The parsers of those answers, one page at a time (the calls above use
 * them; tests and fuzzing call them directly).  A list page calls fn for
 * each object as bk_s3_list() does, chain carrying the companions from
 * page to page; an uploads page calls fn for each upload.  Both fill pg
 * and return 0, or -1 with err for a malformed page or fn's -1.
 * bk_s3_delete_result() returns what bk_s3_delete() does.
 */
#define BK_S3_MARKER	1100	/* room for a continuation token or marker */
struct bk_s3_page {
	int	 truncated;		/* IsTruncated: more to come */
	char	 next[BK_S3_MARKER];	/* NextContinuationToken, NextKeyMarker */
	char	 next_id[BK_S3_MARKER];	/* NextUploadIdMarker */
};
int	bk_s3_list_page(const char *body, size_t len, int flags,
	    struct bk_s3_chain *chain, bk_s3_list_fn fn, void *arg,
	    struct bk_s3_page *pg, struct bk_err *err);
int	bk_s3_uploads_page(const char *body, size_t len, bk_s3_uploads_fn fn,
	    void *arg, struct bk_s3_page *pg, struct bk_err *err);
int	bk_s3_delete_result(const char *body, size_t len,
	    bk_s3_delete_fn failed, void *arg, struct bk_err *err);

/* Parse an ISO 8601 time as S3 writes it ("2026-11-21T02:00:13.000Z"). */
int	bk_s3_parse_time(const char *s, time_t *t);

/* Parse an HTTP date ("Sat, 21 Nov 2026 02:00:13 GMT"). */
int	bk_s3_parse_http_date(const char *s, time_t *t);

#endif
