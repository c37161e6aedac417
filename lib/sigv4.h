/*
 * sigv4.h - AWS Signature Version 4 for S3.
 *
 * A pure module: it builds the canonical request, the string to sign and
 * the signature of an HTTP request described by a struct bk_sigv4_req,
 * and gives back the Authorization header value (or the query string of
 * a presigned URL).  It does no I/O; the HTTP client sends what it says.
 *
 * S3's rules, which differ from other AWS services: the path is never
 * normalised ("a//b", "./x" and "x/.." are signed as sent) and is encoded
 * once (every byte except A-Z a-z 0-9 - _ . ~ and '/' becomes %XX, upper-
 * case hex); query keys and values are encoded the same way, '/' included.
 *
 * The secret access key never appears in an error message, and every key
 * derived from it is wiped after use.
 */
#ifndef BK_SIGV4_H
#define BK_SIGV4_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"

#define BK_SIGV4_ALGORITHM	"AWS4-HMAC-SHA256"
#define BK_SIGV4_UNSIGNED	"UNSIGNED-PAYLOAD"
#define BK_SIGV4_STREAMING	"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define BK_SIGV4_EMPTY_SHA256	\
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define BK_SIGV4_HEXLEN		64	/* hex SHA-256 or signature */
#define BK_SIGV4_DATELEN	16	/* "20150830T123600Z" */
#define BK_SIGV4_KEYLEN		32	/* a derived signing key */

/* Limits; anything longer is refused with a message saying what. */
#define BK_SIGV4_FIELDS_MAX	1000		/* query params, headers */
#define BK_SIGV4_NAME_MAX	64		/* region, service */
#define BK_SIGV4_ACCESS_MAX	128		/* access key id */
#define BK_SIGV4_SECRET_MAX	1024		/* secret access key */
#define BK_SIGV4_TOKEN_MAX	(16 * 1024)	/* session token */
#define BK_SIGV4_CANON_MAX	(256 * 1024)	/* canonical request */

/* Room for an Authorization value or a presigned query string that is
 * large enough for any S3 request bk makes (more is refused, not cut). */
#define BK_SIGV4_AUTHZ_SIZE	4096
#define BK_SIGV4_QUERY_SIZE	(32 * 1024)

/* Flags of struct bk_sigv4_req. */
#define BK_SIGV4_CONTENT_SHA256	0x01	/* sign x-amz-content-sha256 (S3) */
#define BK_SIGV4_QUERY		0x02	/* presigned form (see below) */

/*
 * Credentials.  The signer only reads them; the caller owns the memory
 * and wipes the secret (struct bk_secret does).  token is the session
 * token of temporary credentials; NULL or "" means none.
 */
struct bk_sigv4_creds {
	const char	*access_key;	/* AWS_ACCESS_KEY_ID */
	const char	*secret_key;	/* AWS_SECRET_ACCESS_KEY */
	const char	*token;		/* AWS_SESSION_TOKEN, NULL or "" */
};

/* A query parameter, raw (not encoded): value NULL or "" gives "key=". */
struct bk_sigv4_param {
	const char	*key;
	const char	*value;
};

/* A request header: any case of name; value as sent (no CR or LF). */
struct bk_sigv4_header {
	const char	*name;
	const char	*value;
};

/*
 * A request to sign.  The caller fills the inputs; every pointer must stay
 * valid until the request is sent.  The signer fills the outputs.
 *
 * path is raw (an S3 key as it is: "/bucket/a b+c"); the signer encodes
 * it, and the HTTP client must send exactly bk_sigv4_encode(path, PATH).
 * Every header in headers is signed, and a Host header is required; do
 * not pass headers that a proxy or curl may rewrite (User-Agent, Expect,
 * Content-Length of a chunked upload, ...): add those unsigned.  A header
 * may appear more than once; its values are joined with ',' in the order
 * given.  payload_hash is the lower-case hex SHA-256 of the body
 * (BK_SIGV4_EMPTY_SHA256 for none, bk_sigv4_sha256_hex() to compute it),
 * or a literal marker: BK_SIGV4_UNSIGNED, BK_SIGV4_STREAMING (or
 * another "STREAMING-..." variant); anything else is refused.
 *
 * Header form (bk_sigv4_sign()): the signer adds and signs x-amz-date,
 * x-amz-security-token when creds->token is set, and with
 * BK_SIGV4_CONTENT_SHA256 (always for S3) x-amz-content-sha256 set to
 * payload_hash.  They are listed in added[] for the caller to send; the
 * caller must not pass them (or Authorization) itself.
 *
 * Query form (bk_sigv4_presign(), or BK_SIGV4_QUERY for the two
 * inspection functions): the X-Amz-Algorithm, -Credential, -Date,
 * -Expires (expires seconds, 1 to 604800), -SignedHeaders and, with a
 * token, -Security-Token parameters are added to the signed query, and
 * no header is added.  For S3 use payload_hash BK_SIGV4_UNSIGNED.
 */
struct bk_sigv4_req {
	/* inputs */
	const char			*method;	/* "GET", "PUT", ... */
	const char			*path;		/* raw, from '/' */
	const struct bk_sigv4_param	*query;
	size_t				 nquery;
	const struct bk_sigv4_header	*headers;
	size_t				 nheaders;
	const char			*payload_hash;
	unsigned			 expires;	/* query form only */
	int				 flags;		/* BK_SIGV4_* */

	/* outputs of bk_sigv4_sign() (added[] points into req and creds) */
	char			 amzdate[BK_SIGV4_DATELEN + 1];
	char			 signature[BK_SIGV4_HEXLEN + 1];
	struct bk_sigv4_header	 added[3];
	size_t			 nadded;
};

/*
 * URI-encode len bytes of in into out (size bytes, always NUL-terminated
 * when size > 0): unreserved characters (A-Z a-z 0-9 - _ . ~) are kept,
 * '/' is kept if path is non-zero, every other byte becomes %XX (upper-
 * case hex).  Nothing is decoded first: "%" becomes "%25".  Returns the
 * length of the full encoding, like snprintf(): the output was cut if the
 * result is >= size.
 */
size_t	bk_sigv4_encode(char *out, size_t size, const void *in, size_t len,
	    int path);

/* Lower-case hex SHA-256 of len bytes of data into hex (65 bytes). */
void	bk_sigv4_sha256_hex(char hex[BK_SIGV4_HEXLEN + 1], const void *data,
	    size_t len);

/*
 * Format t (UTC) as an x-amz-date into out ("20150830T123600Z").  Returns
 * 0, or -1 if t is outside the years 1970 to 9999.
 */
int	bk_sigv4_amzdate(char out[BK_SIGV4_DATELEN + 1], time_t t,
	    struct bk_err *err);

/*
 * Derive the signing key kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret,
 * date), region), service), "aws4_request") for date ("20150830"), into
 * key.  The caller must wipe key (OPENSSL_cleanse) when done.  Returns 0
 * or -1.
 */
int	bk_sigv4_signing_key(unsigned char key[BK_SIGV4_KEYLEN],
	    const char *secret, const char *date, const char *region,
	    const char *service, struct bk_err *err);

/*
 * Sign req with the Authorization header.  Writes its value
 * ("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request,
 * SignedHeaders=host;x-amz-date,Signature=<hex>") into authz (authzsize
 * bytes; BK_SIGV4_AUTHZ_SIZE is enough for bk's requests) and fills the
 * outputs of req: amzdate, signature, and added[0..nadded) the headers the
 * caller must send besides req->headers and Authorization.  t is the
 * request time (the server refuses more than 15 minutes of skew).
 * Returns 0, or -1 with err filled (bad input, a limit exceeded, authz
 * too small, out of memory); the secret is never in the message.
 */
int	bk_sigv4_sign(const struct bk_sigv4_creds *creds, const char *region,
	    const char *service, time_t t, struct bk_sigv4_req *req,
	    char *authz, size_t authzsize, struct bk_err *err);

/*
 * Presign req (the query form; req->expires seconds of validity): writes
 * into query (querysize bytes) the whole query string to send after '?',
 * encoded, the caller's parameters included, ending with
 * "&X-Amz-Signature=<hex>".  Fills req->amzdate and req->signature.
 * Returns 0 or -1.
 */
int	bk_sigv4_presign(const struct bk_sigv4_creds *creds,
	    const char *region, const char *service, time_t t,
	    struct bk_sigv4_req *req, char *query, size_t querysize,
	    struct bk_err *err);

/*
 * The intermediate steps, for tests and for debugging a
 * SignatureDoesNotMatch (S3 returns its own canonical request and string
 * to sign in the error body): write the canonical request, or the string
 * to sign, of req in the form req->flags selects (BK_SIGV4_QUERY or not)
 * into out (size bytes).  Neither contains secret material.  Return the
 * length written, or -1 (err filled; too small a buffer is an error).
 */
ssize_t	bk_sigv4_canonical_request(const struct bk_sigv4_creds *creds,
	    const char *region, const char *service, time_t t,
	    const struct bk_sigv4_req *req, char *out, size_t size,
	    struct bk_err *err);
ssize_t	bk_sigv4_string_to_sign(const struct bk_sigv4_creds *creds,
	    const char *region, const char *service, time_t t,
	    const struct bk_sigv4_req *req, char *out, size_t size,
	    struct bk_err *err);

/*
 * Chunked upload (Content-Encoding: aws-chunked, payload_hash
 * BK_SIGV4_STREAMING): each chunk's signature chains on the previous one,
 * starting from the seed signature of the request (req->signature after
 * bk_sigv4_sign()).  The state holds the derived signing key: release it
 * with bk_sigv4_chunk_free(), which wipes it.
 */
struct bk_sigv4_chunk {
	unsigned char	key[BK_SIGV4_KEYLEN];
	char		amzdate[BK_SIGV4_DATELEN + 1];
	char		scope[2 * BK_SIGV4_NAME_MAX + 32];
	char		prev[BK_SIGV4_HEXLEN + 1];
};

/* Room for "<hex size>;chunk-signature=<hex>" and its NUL. */
#define BK_SIGV4_CHUNKHDR_SIZE	(16 + 17 + BK_SIGV4_HEXLEN + 1)

/*
 * Start chaining chunk signatures after the request signed at t with
 * signature seed (64 hex digits).  Returns 0 or -1.
 */
int	bk_sigv4_chunk_init(struct bk_sigv4_chunk *ch,
	    const struct bk_sigv4_creds *creds, const char *region,
	    const char *service, time_t t, const char *seed,
	    struct bk_err *err);

/*
 * Sign the next chunk (len bytes at data; the last chunk is empty) and
 * write its header line "<hex len>;chunk-signature=<hex>" (without CRLF)
 * into hdr.  Returns the length of the line, or -1 (err filled) if
 * OpenSSL fails.
 */
int	bk_sigv4_chunk_sign(struct bk_sigv4_chunk *ch, const void *data,
	    size_t len, char hdr[BK_SIGV4_CHUNKHDR_SIZE], struct bk_err *err);

/* Wipe the state.  Safe to call twice. */
void	bk_sigv4_chunk_free(struct bk_sigv4_chunk *ch);

#endif
