/*
 * age.c - the age v1 file format.
 *
 *	age-encryption.org/v1
 *	-> X25519 <ephemeral share>		one stanza per recipient
 *	<wrapped file key>
 *	--- <HMAC-SHA-256 of the header up to "---">
 *	<16-byte nonce><STREAM of 64 KiB ChaCha20-Poly1305 chunks>
 *
 * Decryption is layered: an optional armor decoder turns the input into
 * binary age, a buffered reader serves the header parser a line at a time
 * and the payload decryptor a chunk at a time.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "age.h"
#include "b64.h"
#include "bech32.h"
#include "cli.h"
#include "io.h"
#include "par.h"
#include "progress.h"

#define VERSION_LINE	"age-encryption.org/v1"
#define ARMOR_BEGIN	"-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END	"-----END AGE ENCRYPTED FILE-----"
#define ARMOR_COLS	64
#define FILE_KEY	16
#define TAG		16
#define ENC_CHUNK	(BK_AGE_CHUNK + TAG)
#define BATCH		16		/* chunks per read/write */
#define HEADER_MAX	(1024 * 1024)	/* refuse larger headers */
#define LINE_MAX_LEN	(64 * 1024)	/* longest header line */
#define STANZA_MAX	1024

#define X25519_INFO	"age-encryption.org/v1/X25519"
#define SCRYPT_SALT	"age-encryption.org/v1/scrypt"

/* ------------------------------------------------------------------ */
/* Primitives */

static int
hmac_sha256(const unsigned char *key, size_t keylen, const void *data,
    size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	return HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n) ==
	    NULL ? -1 : 0;
}

/* HKDF-SHA-256 (RFC 5869) with a 32-byte output: one expand block. */
static int
hkdf(const unsigned char *ikm, size_t ikmlen, const unsigned char *salt,
    size_t saltlen, const char *info, unsigned char out[32])
{
	static const unsigned char zero[32];
	unsigned char prk[32], t[256];
	size_t ilen = strlen(info);
	int rc;

	if (ilen + 1 > sizeof(t))
		return -1;
	if (saltlen == 0) {
		salt = zero;
		saltlen = sizeof(zero);
	}
	rc = hmac_sha256(salt, saltlen, ikm, ikmlen, prk);
	memcpy(t, info, ilen);
	t[ilen] = 1;
	if (rc == 0)
		rc = hmac_sha256(prk, sizeof(prk), t, ilen + 1, out);
	OPENSSL_cleanse(prk, sizeof(prk));
	return rc;
}

static int
x25519_public(const unsigned char sk[32], unsigned char pk[32])
{
	EVP_PKEY *k;
	size_t n = 32;
	int rc;

	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
	if (k == NULL)
		return -1;
	rc = EVP_PKEY_get_raw_public_key(k, pk, &n) == 1 && n == 32 ? 0 : -1;
	EVP_PKEY_free(k);
	return rc;
}

/*
 * X25519(sk, peer).  Fails (-1) on an all-zero result, which a low-order
 * peer point gives: OpenSSL refuses it too, but the check does not rely on
 * that.
 */
static int
x25519(const unsigned char sk[32], const unsigned char peer[32],
    unsigned char out[32])
{
	static const unsigned char zero[32];
	EVP_PKEY *k = NULL, *p = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t n = 32;
	int rc = -1;

	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
	p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, 32);
	if (k == NULL || p == NULL)
		goto out;
	ctx = EVP_PKEY_CTX_new(k, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, p) != 1 ||
	    EVP_PKEY_derive(ctx, out, &n) != 1 || n != 32)
		goto out;
	if (CRYPTO_memcmp(out, zero, 32) == 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		OPENSSL_cleanse(out, 32);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);
	EVP_PKEY_free(p);
	return rc;
}

/*
 * ChaCha20-Poly1305 with a reusable context.  seal: len bytes of in to
 * len + TAG bytes of out.  open: len + TAG bytes of in to len bytes of
 * out, -1 if the tag does not check.  The expected tag is always set
 * before the final call: without it OpenSSL "verifies" against nothing.
 */
static int
aead(EVP_CIPHER_CTX *c, int enc, const unsigned char key[32],
    const unsigned char nonce[12], const unsigned char *in, size_t len,
    unsigned char *out)
{
	int n, f;

	if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce,
	    enc) != 1)
		return -1;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG,
	    (void *)(in + len)) != 1)
		return -1;
	if (len > 0 && (EVP_CipherUpdate(c, out, &n, in, (int)len) != 1 ||
	    (size_t)n != len))
		return -1;
	if (EVP_CipherFinal_ex(c, out + len, &f) != 1 || f != 0)
		return -1;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG,
	    out + len) != 1)
		return -1;
	return 0;
}

/* One-shot AEAD with a zero nonce, for wrapping the file key. */
static int
wrap(int enc, const unsigned char key[32], const unsigned char *in,
    size_t len, unsigned char *out)
{
	static const unsigned char nonce[12];
	EVP_CIPHER_CTX *c;
	int rc;

	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	rc = aead(c, enc, key, nonce, in, len, out);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

static int
scrypt_key(const struct bk_secret *pass, const unsigned char salt[16],
    unsigned logn, unsigned char key[32])
{
	unsigned char s[sizeof(SCRYPT_SALT) - 1 + 16];
	uint64_t n = (uint64_t)1 << logn, r = 8, p = 1;
	/* OpenSSL's default limit is 32 MiB, too small from work factor 15
	 * on: allow exactly what this work factor needs, plus slack. */
	uint64_t maxmem = 128 * r * p + 32 * r * (n + 2) * 4 + 65536;

	memcpy(s, SCRYPT_SALT, sizeof(SCRYPT_SALT) - 1);
	memcpy(s + sizeof(SCRYPT_SALT) - 1, salt, 16);
	return EVP_PBE_scrypt((const char *)pass->data, pass->len, s,
	    sizeof(s), n, r, p, maxmem, key, 32) == 1 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Keys */

int
bk_age_recipient_parse(const char *s, unsigned char pk[32],
    struct bk_err *err)
{
	unsigned char buf[64];

	if (strncmp(s, "age1", 4) != 0 ||
	    bk_bech32_decode(buf, sizeof(buf), "age", s) != 32)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%.80s: not an age recipient (age1...)", s);
	memcpy(pk, buf, 32);
	return 0;
}

void
bk_age_recipient_format(const unsigned char pk[32], char *out)
{
	bk_bech32_encode(out, BK_AGE_RECIPIENT_MAX, "age", pk, 32, 0);
}

int
bk_age_identity_parse(const char *s, struct bk_age_identity *id,
    struct bk_err *err)
{
	unsigned char buf[64];
	ssize_t n;

	n = bk_bech32_decode(buf, sizeof(buf), "AGE-SECRET-KEY-", s);
	if (n != 32 || strncmp(s, "AGE-SECRET-KEY-1", 16) != 0) {
		OPENSSL_cleanse(buf, sizeof(buf));
		/* Never echo what may be key material. */
		return bk_err_set(err, BK_EXIT_USAGE,
		    "not an age identity (AGE-SECRET-KEY-1...)");
	}
	memcpy(id->sk, buf, 32);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (x25519_public(id->sk, id->pk) < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "X25519: cannot compute the public key");
	return 0;
}

void
bk_age_identity_format(const struct bk_age_identity *id, char *out)
{
	bk_bech32_encode(out, BK_AGE_IDENTITY_MAX, "AGE-SECRET-KEY-", id->sk,
	    32, 1);
}

int
bk_age_keygen(struct bk_age_identity *id, struct bk_err *err)
{
	if (RAND_bytes(id->sk, 32) != 1 || x25519_public(id->sk, id->pk) < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "keygen: no randomness or X25519 failure");
	return 0;
}

int
bk_age_recipients_add(struct bk_age_recipients *r, const char *s,
    struct bk_err *err)
{
	unsigned char pk[32];
	void *p;

	if (bk_age_recipient_parse(s, pk, err) < 0)
		return -1;
	p = realloc(r->pk, (r->n + 1) * sizeof(*r->pk));
	if (p == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "recipients");
	r->pk = p;
	memcpy(r->pk[r->n++], pk, 32);
	return 0;
}

/* Call fn for each line of text that is not empty or a '#' comment, with
 * the line NUL-terminated in place (a trailing "\r" removed).  Stops at
 * the first failure. */
static int
each_line(char *text, size_t len, const char *path,
    int (*fn)(void *, const char *, struct bk_err *), void *arg,
    struct bk_err *err)
{
	char *p = text, *end = text + len, *nl;
	size_t n;
	int lineno = 0;

	/* text has room for a NUL at text[len]. */
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (memchr(p, '\0', n) != NULL)
			return bk_err_set(err, BK_EXIT_USAGE,
			    "%s: line %d: NUL byte", path, lineno);
		*nl = '\0';
		if (n > 0 && p[n - 1] == '\r')
			p[n - 1] = '\0';
		if (*p != '\0' && *p != '#' && fn(arg, p, err) < 0)
			return bk_err_prefix(err, "%s: line %d", path, lineno);
		p = nl + 1;
	}
	return 0;
}

static int
add_recipient(void *arg, const char *line, struct bk_err *err)
{
	return bk_age_recipients_add(arg, line, err);
}

int
bk_age_recipients_file(struct bk_age_recipients *r, const char *path,
    struct bk_err *err)
{
	char buf[65536 + 1];
	ssize_t n;
	FILE *f;
	int rc;

	if ((f = fopen(path, "r")) == NULL)
		return bk_err_sys(err, BK_EXIT_USAGE, errno, "%s", path);
	n = (ssize_t)fread(buf, 1, sizeof(buf), f);
	rc = ferror(f);
	fclose(f);
	if (rc)
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s: read error", path);
	if ((size_t)n == sizeof(buf))
		return bk_err_set(err, BK_EXIT_USAGE, "%s: too large", path);
	if (each_line(buf, (size_t)n, path, add_recipient, r, err) < 0)
		return -1;
	return 0;
}

void
bk_age_recipients_free(struct bk_age_recipients *r)
{
	free(r->pk);
	r->pk = NULL;
	r->n = 0;
	bk_secret_free(&r->pass);
}

static int
add_identity(void *arg, const char *line, struct bk_err *err)
{
	struct bk_age_keyring *k = arg;
	struct bk_age_identity id, *p;

	if (bk_age_identity_parse(line, &id, err) < 0)
		return -1;
	p = malloc((k->n + 1) * sizeof(*p));
	if (p == NULL) {
		OPENSSL_cleanse(&id, sizeof(id));
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "identities");
	}
	/* Copy by hand rather than realloc, to wipe the old array. */
	if (k->n > 0) {
		memcpy(p, k->id, k->n * sizeof(*p));
		OPENSSL_cleanse(k->id, k->n * sizeof(*p));
	}
	free(k->id);
	p[k->n++] = id;
	k->id = p;
	OPENSSL_cleanse(&id, sizeof(id));
	return 0;
}

int
bk_age_keyring_add(struct bk_age_keyring *k, struct bk_secret *text,
    const char *name, struct bk_err *err)
{
	size_t before = k->n;

	if (each_line((char *)text->data, text->len, name, add_identity, k,
	    err) < 0)
		return -1;
	if (k->n == before)
		return bk_err_set(err, BK_EXIT_USAGE, "%s: no identity", name);
	return 0;
}

int
bk_age_keyring_file(struct bk_age_keyring *k, const char *path,
    struct bk_err *err)
{
	struct bk_secret s;
	int rc;

	if (bk_secret_from_file(&s, path, err) < 0)
		return -1;
	rc = bk_age_keyring_add(k, &s, path, err);
	bk_secret_free(&s);
	return rc;
}

void
bk_age_keyring_free(struct bk_age_keyring *k)
{
	if (k->id != NULL) {
		OPENSSL_cleanse(k->id, k->n * sizeof(*k->id));
		free(k->id);
	}
	k->id = NULL;
	k->n = 0;
	bk_secret_free(&k->pass);
}

/* ------------------------------------------------------------------ */
/* Encryption */

/* Output: binary, or base64 armor in 64-column lines. */
struct wr {
	int		 fd;
	int		 armor;
	unsigned char	 carry[48];	/* armor: bytes short of a line */
	size_t		 ncarry;
	uint64_t	 out;
};

static int
wr_raw(struct wr *w, const void *p, size_t n, struct bk_err *err)
{
	if (w->fd >= 0 && bk_io_write_all(w->fd, p, n, "output", err) < 0)
		return -1;
	w->out += n;
	return 0;
}

static int
wr_put(struct wr *w, const unsigned char *p, size_t n, struct bk_err *err)
{
	char lines[64 * 65];
	size_t take, o;

	if (!w->armor)
		return wr_raw(w, p, n, err);
	while (n > 0) {
		o = 0;
		if (w->ncarry > 0 || n < 48) {
			take = 48 - w->ncarry < n ? 48 - w->ncarry : n;
			memcpy(w->carry + w->ncarry, p, take);
			w->ncarry += take;
			p += take;
			n -= take;
			if (w->ncarry < 48)
				return 0;
			o += bk_b64_encode(lines, w->carry, 48, 1);
			lines[o++] = '\n';
			w->ncarry = 0;
		}
		while (n >= 48 && o + 65 <= sizeof(lines)) {
			o += bk_b64_encode(lines + o, p, 48, 1);
			lines[o++] = '\n';
			p += 48;
			n -= 48;
		}
		if (wr_raw(w, lines, o, err) < 0)
			return -1;
	}
	return 0;
}

static int
wr_end(struct wr *w, struct bk_err *err)
{
	char line[80];
	size_t o;

	if (!w->armor)
		return 0;
	if (w->ncarry > 0) {
		o = bk_b64_encode(line, w->carry, w->ncarry, 1);
		line[o++] = '\n';
		if (wr_raw(w, line, o, err) < 0)
			return -1;
	}
	return wr_raw(w, ARMOR_END "\n", sizeof(ARMOR_END), err);
}

/* A growing text buffer for the header. */
struct text {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static int
text_add(struct text *t, const void *p, size_t n)
{
	char *q;

	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->len + n + 1) * 2;
		if (cap > HEADER_MAX * 2 || (q = realloc(t->p, cap)) == NULL)
			return -1;
		t->p = q;
		t->cap = cap;
	}
	memcpy(t->p + t->len, p, n);
	t->len += n;
	t->p[t->len] = '\0';
	return 0;
}

static int
text_str(struct text *t, const char *s)
{
	return text_add(t, s, strlen(s));
}

/* "-> TYPE ARG..." then the wrapped key as one short body line. */
static int
stanza_out(struct text *h, const char *line, const unsigned char body[32])
{
	char b[64];

	bk_b64_encode(b, body, 32, 0);
	return text_str(h, line) || text_str(h, "\n") || text_str(h, b) ||
	    text_str(h, "\n") ? -1 : 0;
}

static int
wrap_x25519(struct text *h, const unsigned char pk[32],
    const unsigned char fk[FILE_KEY], struct bk_err *err)
{
	unsigned char eph[32], share[32], shared[32], salt[64], key[32];
	unsigned char body[FILE_KEY + TAG];
	char line[80], b[64];
	int rc = -1;

	if (RAND_bytes(eph, 32) != 1 || x25519_public(eph, share) < 0) {
		bk_err_set(err, BK_EXIT_RUNTIME, "X25519: key generation");
		goto out;
	}
	if (x25519(eph, pk, shared) < 0) {
		bk_err_set(err, BK_EXIT_USAGE,
		    "recipient is not a usable X25519 public key");
		goto out;
	}
	memcpy(salt, share, 32);
	memcpy(salt + 32, pk, 32);
	if (hkdf(shared, 32, salt, 64, X25519_INFO, key) < 0 ||
	    wrap(1, key, fk, FILE_KEY, body) < 0) {
		bk_err_set(err, BK_EXIT_RUNTIME, "X25519: wrapping failed");
		goto out;
	}
	bk_b64_encode(b, share, 32, 0);
	snprintf(line, sizeof(line), "-> X25519 %s", b);
	if (stanza_out(h, line, body) < 0) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "header");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(eph, sizeof(eph));
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static int
wrap_scrypt(struct text *h, const struct bk_secret *pass, unsigned logn,
    const unsigned char fk[FILE_KEY], struct bk_err *err)
{
	unsigned char salt[16], key[32], body[FILE_KEY + TAG];
	char line[80], b[32];
	int rc = -1;

	if (RAND_bytes(salt, 16) != 1) {
		bk_err_set(err, BK_EXIT_RUNTIME, "scrypt: no randomness");
		goto out;
	}
	if (scrypt_key(pass, salt, logn, key) < 0) {
		bk_err_set(err, BK_EXIT_RUNTIME,
		    "scrypt: work factor %u: out of memory", logn);
		goto out;
	}
	if (wrap(1, key, fk, FILE_KEY, body) < 0) {
		bk_err_set(err, BK_EXIT_RUNTIME, "scrypt: wrapping failed");
		goto out;
	}
	bk_b64_encode(b, salt, 16, 0);
	snprintf(line, sizeof(line), "-> scrypt %s %u", b, logn);
	if (stanza_out(h, line, body) < 0) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "header");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* The MAC over the header text so far (which ends with "---"). */
static int
header_mac(const unsigned char fk[FILE_KEY], const struct text *h,
    unsigned char mac[32])
{
	unsigned char hk[32];
	int rc;

	rc = hkdf(fk, FILE_KEY, NULL, 0, "header", hk);
	if (rc == 0)
		rc = hmac_sha256(hk, 32, h->p, h->len, mac);
	OPENSSL_cleanse(hk, sizeof(hk));
	return rc;
}

static int
build_header(const struct bk_age_recipients *r,
    const unsigned char fk[FILE_KEY], struct text *h, struct bk_err *err)
{
	unsigned char mac[32];
	char b[64];
	size_t i;

	if (r->n == 0 && r->pass.len == 0)
		return bk_err_set(err, BK_EXIT_USAGE, "no recipient");
	if (r->n > 0 && r->pass.len > 0)
		return bk_err_set(err, BK_EXIT_USAGE, "a passphrase cannot be "
		    "combined with recipients (age allows scrypt alone)");
	if (text_str(h, VERSION_LINE "\n") < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "header");
	for (i = 0; i < r->n; i++)
		if (wrap_x25519(h, r->pk[i], fk, err) < 0)
			return -1;
	if (r->pass.len > 0 && wrap_scrypt(h, &r->pass, r->logn, fk, err) < 0)
		return -1;
	if (text_str(h, "---") < 0 || header_mac(fk, h, mac) < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "header: MAC failed");
	bk_b64_encode(b, mac, 32, 0);
	if (text_str(h, " ") < 0 || text_str(h, b) < 0 ||
	    text_str(h, "\n") < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "header");
	return 0;
}

static void
chunk_nonce(unsigned char nonce[12], uint64_t counter, int last)
{
	int i;

	memset(nonce, 0, 12);
	for (i = 10; i >= 3; i--) {
		nonce[i] = counter & 0xff;
		counter >>= 8;
	}
	nonce[11] = last ? 1 : 0;
}

/* The chunks of one batch, sealed or opened on several threads. */
struct batch {
	EVP_CIPHER_CTX	*c[BK_PAR_MAX];	/* one per thread */
	const unsigned char *key;
	const unsigned char *in;
	unsigned char	*out;
	size_t		 n;		/* plaintext bytes (seal) */
	size_t		 items;
	uint64_t	 base;		/* counter of item 0 */
	int		 last;		/* the last item is the final chunk */
	char		 bad[BATCH];	/* per item: the cipher failed */
};

static void
seal_item(void *arg, size_t i, unsigned slot)
{
	struct batch *b = arg;
	unsigned char nonce[12];
	size_t off = i * BK_AGE_CHUNK;
	size_t len = b->n - off < BK_AGE_CHUNK ? b->n - off : BK_AGE_CHUNK;

	chunk_nonce(nonce, b->base + i, b->last && i == b->items - 1);
	b->bad[i] = aead(b->c[slot], 1, b->key, nonce, b->in + off, len,
	    b->out + i * ENC_CHUNK) < 0;
}

/* Start sealing n bytes of plaintext (at most BATCH chunks; n == 0
 * gives one empty chunk) into out on the helper threads, the last chunk
 * final if last is set. */
static void
seal_begin(struct bk_par *par, struct batch *b, uint64_t counter,
    const unsigned char *in, size_t n, int last, unsigned char *out)
{
	b->in = in;
	b->out = out;
	b->n = n;
	b->items = n == 0 ? 1 : (n + BK_AGE_CHUNK - 1) / BK_AGE_CHUNK;
	b->base = counter;
	b->last = last;
	bk_par_start(par, seal_item, b, b->items);
}

/* Wait for the batch; the ciphertext length, or -1. */
static ssize_t
seal_end(struct bk_par *par, struct batch *b, uint64_t *counter)
{
	size_t i;

	bk_par_wait(par);
	for (i = 0; i < b->items; i++)
		if (b->bad[i])
			return -1;
	*counter += b->items;
	return (ssize_t)(b->n + b->items * TAG);
}

static void
open_item(void *arg, size_t i, unsigned slot)
{
	struct batch *b = arg;
	unsigned char nonce[12];

	chunk_nonce(nonce, b->base + i, 0);
	b->bad[i] = aead(b->c[slot], 0, b->key, nonce, b->in + i * ENC_CHUNK,
	    BK_AGE_CHUNK, b->out + i * BK_AGE_CHUNK) < 0;
}

static void
batch_free(struct batch *b)
{
	int i;

	for (i = 0; i < BK_PAR_MAX; i++)
		EVP_CIPHER_CTX_free(b->c[i]);
}

/* Cipher contexts and threads for o, plus extra threads (for a caller
 * busy with I/O).  Returns 0, or -1 with err. */
static int
batch_init(struct batch *b, struct bk_par *par, const struct bk_age_opts *o,
    unsigned extra, struct bk_err *err)
{
	unsigned i, n = o->threads;

	memset(b, 0, sizeof(*b));
	if (n == 0)
		n = bk_cli_ncpu();
	if (n > 4)
		n = 4;	/* the pipe, not the cipher, is the limit by then */
	if (bk_par_init(par, n + extra, err) < 0)
		return -1;
	for (i = 0; i < par->threads; i++)
		if ((b->c[i] = EVP_CIPHER_CTX_new()) == NULL) {
			bk_par_free(par);
			batch_free(b);
			return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM,
			    "cipher");
		}
	return 0;
}

int
bk_age_encrypt(const struct bk_age_opts *o,
    const struct bk_age_recipients *r, struct bk_age_stats *st,
    struct bk_err *err)
{
	unsigned char fk[FILE_KEY], nonce[16], pkey[32];
	unsigned char *in[2] = { NULL, NULL }, *out[2] = { NULL, NULL };
	struct text h = { NULL, 0, 0 };
	struct wr w = { o->out, o->armor, { 0 }, 0, 0 };
	struct bk_par par;
	struct batch *b = NULL;
	uint64_t counter = 0;
	size_t have, pending = 0;
	ssize_t n, m;
	bk_io_read_fn rd;
	int rc = -1, par_up = 0, cur = 0, i;

	memset(st, 0, sizeof(*st));
	rd = bk_io_reader(o->in);
	for (i = 0; i < 2; i++) {
		in[i] = malloc(BATCH * BK_AGE_CHUNK);
		out[i] = malloc(BATCH * ENC_CHUNK);
	}
	b = malloc(sizeof(*b));
	if (in[0] == NULL || in[1] == NULL || out[0] == NULL ||
	    out[1] == NULL || b == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "encrypt");
		goto out;
	}
	/* The cipher runs on helper threads while this one reads the next
	 * batch and writes the last one. */
	if (batch_init(b, &par, o, 1, err) < 0)
		goto out;
	par_up = 1;
	if (RAND_bytes(fk, FILE_KEY) != 1 || RAND_bytes(nonce, 16) != 1) {
		bk_err_set(err, BK_EXIT_RUNTIME, "encrypt: no randomness");
		goto out;
	}
	if (build_header(r, fk, &h, err) < 0)
		goto out;
	if (hkdf(fk, FILE_KEY, nonce, 16, "payload", pkey) < 0) {
		bk_err_set(err, BK_EXIT_RUNTIME, "encrypt: HKDF failed");
		goto out;
	}
	b->key = pkey;
	if ((o->armor && wr_raw(&w, ARMOR_BEGIN "\n", sizeof(ARMOR_BEGIN),
	    err) < 0) || wr_put(&w, (unsigned char *)h.p, h.len, err) < 0 ||
	    wr_put(&w, nonce, 16, err) < 0)
		goto out;

	/*
	 * A full batch may be followed by more input or by none, so its last
	 * chunk is kept back: it goes to the front of the next batch, and is
	 * sealed as final only if nothing follows.
	 */
	n = rd(o->in, in[cur], BATCH * BK_AGE_CHUNK, "input", err);
	if (n < 0)
		goto out;
	have = (size_t)n;
	for (;;) {
		st->in += (uint64_t)n;
		if (o->progress != NULL)
			bk_progress_add(o->progress, (uint64_t)n);
		if (have < BATCH * BK_AGE_CHUNK)
			break;
		seal_begin(&par, b, counter, in[cur],
		    (BATCH - 1) * BK_AGE_CHUNK, 0, out[cur]);
		if (pending > 0 && wr_put(&w, out[!cur], pending, err) < 0) {
			bk_par_wait(&par);
			goto out;
		}
		memcpy(in[!cur], in[cur] + (BATCH - 1) * BK_AGE_CHUNK,
		    BK_AGE_CHUNK);
		n = rd(o->in, in[!cur] + BK_AGE_CHUNK,
		    (BATCH - 1) * BK_AGE_CHUNK, "input", err);
		if ((m = seal_end(&par, b, &counter)) < 0) {
			bk_err_set(err, BK_EXIT_RUNTIME,
			    "encrypt: cipher failed");
			goto out;
		}
		if (n < 0)
			goto out;
		pending = (size_t)m;
		have = BK_AGE_CHUNK + (size_t)n;
		cur = !cur;
	}
	if (pending > 0 && wr_put(&w, out[!cur], pending, err) < 0)
		goto out;
	/* End of input: only a good upstream earns the final chunk. */
	if (o->at_eof != NULL && o->at_eof(o->at_eof_arg, &st->upstream,
	    err) < 0)
		goto out;
	if (st->upstream == BK_SEAL_FAILED) {
		bk_err_set(err, BK_EXIT_UPSTREAM,
		    "upstream failed: the input is incomplete");
		goto out;
	}
	seal_begin(&par, b, counter, in[cur], have, 1, out[cur]);
	if ((m = seal_end(&par, b, &counter)) < 0) {
		bk_err_set(err, BK_EXIT_RUNTIME, "encrypt: cipher failed");
		goto out;
	}
	if (wr_put(&w, out[cur], (size_t)m, err) < 0 || wr_end(&w, err) < 0)
		goto out;
	rc = 0;
out:
	st->out = w.out;
	OPENSSL_cleanse(fk, sizeof(fk));
	OPENSSL_cleanse(pkey, sizeof(pkey));
	for (i = 0; i < 2; i++) {
		if (in[i] != NULL) {
			OPENSSL_cleanse(in[i], BATCH * BK_AGE_CHUNK);
			free(in[i]);
		}
		free(out[i]);
	}
	free(h.p);
	if (par_up) {
		bk_par_free(&par);
		batch_free(b);
	}
	free(b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Decryption: input layers */

#define RAWBUF	(64 * 1024)

/* Failures carry the vector category in st->fail. */
static int
fail(struct bk_age_stats *st, enum bk_age_fail kind, struct bk_err *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(struct bk_age_stats *st, enum bk_age_fail kind, struct bk_err *err,
    const char *fmt, ...)
{
	char msg[BK_ERR_MSGMAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->fail = kind;
	return bk_err_set(err, BK_EXIT_CHECK, "%s", msg);
}

/* The raw input, and the armor decoder over it. */
struct src {
	const struct bk_age_opts *o;
	struct bk_age_stats *st;
	size_t		 prepos;	/* of o->pre, served first */
	unsigned char	 raw[RAWBUF];
	size_t		 rpos, rlen;
	int		 reof;
	int		 armor;		/* decoding armor */
	int		 state;		/* armor: 0 body, 1 last line seen,
					 * 2 END seen */
};

/* read(2) of the input, the bytes of o->pre first. */
static ssize_t
in_read(struct src *s, void *buf, size_t cap)
{
	size_t k;
	ssize_t n;

	if (s->prepos < s->o->prelen) {
		k = s->o->prelen - s->prepos < cap ? s->o->prelen - s->prepos :
		    cap;
		memcpy(buf, (const unsigned char *)s->o->pre + s->prepos, k);
		s->prepos += k;
		return (ssize_t)k;
	}
	do
		n = read(s->o->in, buf, cap);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Refill raw[] when empty.  1: bytes available, 0: end, -1: error. */
static int
raw_fill(struct src *s, struct bk_err *err)
{
	ssize_t n;

	if (s->rpos < s->rlen)
		return 1;
	if (s->reof)
		return 0;
	n = in_read(s, s->raw, sizeof(s->raw));
	if (n < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "read input");
	s->rpos = 0;
	s->rlen = (size_t)n;
	s->st->in += (uint64_t)n;
	if (s->o->progress != NULL)
		bk_progress_add(s->o->progress, (uint64_t)n);
	if (n == 0)
		s->reof = 1;
	return n > 0;
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip whitespace in the raw input.  Returns as raw_fill(). */
static int
raw_skip_space(struct src *s, struct bk_err *err)
{
	int r;

	while ((r = raw_fill(s, err)) == 1) {
		while (s->rpos < s->rlen && is_space(s->raw[s->rpos]))
			s->rpos++;
		if (s->rpos < s->rlen)
			return 1;
	}
	return r;
}

/*
 * One raw line of at most max bytes (without its "\n" or "\r\n") into
 * line.  *eol tells whether it ended with a newline.  Returns its length,
 * or -1 (too long: armor failure; or a read error).
 */
static ssize_t
raw_line(struct src *s, char *line, size_t max, int *eol,
    struct bk_err *err)
{
	size_t n = 0;
	int r, c;

	*eol = 0;
	for (;;) {
		if ((r = raw_fill(s, err)) < 0)
			return -1;
		if (r == 0)
			break;
		c = s->raw[s->rpos++];
		if (c == '\n') {
			*eol = 1;
			break;
		}
		if (n == max)
			return fail(s->st, BK_AGE_FAIL_ARMOR, err,
			    "armor: line too long");
		line[n++] = (char)c;
	}
	if (*eol && n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return (ssize_t)n;
}

/* Decode armor lines into buf (cap bytes, at least 48).  Returns the
 * bytes decoded, 0 after the END line, -1 on error. */
static ssize_t
armor_read(struct src *s, unsigned char *buf, size_t cap,
    struct bk_err *err)
{
	char line[ARMOR_COLS + 2];
	size_t o = 0;
	ssize_t n, d;
	int eol, r;

	while (s->state < 2 && o + 48 <= cap) {
		if ((n = raw_line(s, line, ARMOR_COLS + 1, &eol, err)) < 0)
			return -1;
		if (strcmp(line, ARMOR_END) == 0) {
			s->state = 2;
			/* Only whitespace may follow the armor. */
			if ((r = raw_skip_space(s, err)) < 0)
				return -1;
			if (r == 1)
				return fail(s->st, BK_AGE_FAIL_ARMOR, err,
				    "armor: data after the END line");
			break;
		}
		if (!eol)
			return fail(s->st, BK_AGE_FAIL_ARMOR, err,
			    "armor: no END line");
		if (s->state == 1)
			return fail(s->st, BK_AGE_FAIL_ARMOR, err,
			    "armor: a short line is not the last one");
		if (n == 0 || n > ARMOR_COLS)
			return fail(s->st, BK_AGE_FAIL_ARMOR, err,
			    "armor: %s line", n == 0 ? "empty" : "long");
		if (n < ARMOR_COLS || line[n - 1] == '=')
			s->state = 1;
		d = bk_b64_decode_pad(buf + o, line, (size_t)n);
		if (d < 0)
			return fail(s->st, BK_AGE_FAIL_ARMOR, err,
			    "armor: invalid base64");
		o += (size_t)d;
	}
	return (ssize_t)o;
}

/* Make n raw bytes available from rpos unless the input ends.  Returns
 * the bytes available, or -1. */
static ssize_t
raw_peek(struct src *s, size_t n, struct bk_err *err)
{
	ssize_t r;

	while (s->rlen - s->rpos < n && !s->reof) {
		memmove(s->raw, s->raw + s->rpos, s->rlen - s->rpos);
		s->rlen -= s->rpos;
		s->rpos = 0;
		r = in_read(s, s->raw + s->rlen, sizeof(s->raw) - s->rlen);
		if (r < 0)
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
			    "read input");
		if (r == 0)
			s->reof = 1;
		s->rlen += (size_t)r;
		s->st->in += (uint64_t)r;
		if (s->o->progress != NULL)
			bk_progress_add(s->o->progress, (uint64_t)r);
	}
	return (ssize_t)(s->rlen - s->rpos);
}

/*
 * Begin: detect armor (or, with o->armor, require it).  Armor may have
 * whitespace around it; binary age may not.  Returns 0 or -1.
 */
static int
src_start(struct src *s, struct bk_err *err)
{
	char line[sizeof(ARMOR_BEGIN) + 2];
	ssize_t n;
	int eol, r;

	if ((n = raw_peek(s, 1, err)) < 0)
		return -1;
	if (!s->o->armor && (n == 0 || (!is_space(s->raw[s->rpos]) &&
	    s->raw[s->rpos] != '-')))
		return 0;
	if ((r = raw_skip_space(s, err)) < 0 || (n = raw_peek(s, 5, err)) < 0)
		return -1;
	if (!s->o->armor && (n < 5 || memcmp(s->raw + s->rpos, "-----", 5)))
		return fail(s->st, BK_AGE_FAIL_HEADER, err,
		    "header: not an age file");
	s->armor = 1;
	n = raw_line(s, line, sizeof(ARMOR_BEGIN), &eol, err);
	if (n < 0 && s->st->fail != BK_AGE_FAIL_ARMOR)
		return -1;
	if (n < 0 || !eol || strcmp(line, ARMOR_BEGIN) != 0)
		return fail(s->st, BK_AGE_FAIL_ARMOR, err,
		    "armor: no BEGIN line");
	return 0;
}

/* Read binary age into buf.  Returns bytes, 0 at the end, -1. */
static ssize_t
src_read(struct src *s, unsigned char *buf, size_t cap, struct bk_err *err)
{
	ssize_t n;
	size_t k;

	if (s->armor)
		return armor_read(s, buf, cap, err);
	if (s->rpos < s->rlen) {
		k = s->rlen - s->rpos < cap ? s->rlen - s->rpos : cap;
		memcpy(buf, s->raw + s->rpos, k);
		s->rpos += k;
		return (ssize_t)k;
	}
	if (s->reof)
		return 0;
	n = in_read(s, buf, cap);
	if (n < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "read input");
	if (n == 0)
		s->reof = 1;
	s->st->in += (uint64_t)n;
	if (s->o->progress != NULL)
		bk_progress_add(s->o->progress, (uint64_t)n);
	return n;
}

/* A buffered reader of binary age over src. */
struct rd {
	struct src	*src;
	unsigned char	*buf;
	size_t		 cap, pos, len;
	int		 eof;
};

/* Make at least want bytes available from pos, unless the input ends.
 * Returns the bytes available, or -1. */
static ssize_t
rd_fill(struct rd *r, size_t want, struct bk_err *err)
{
	ssize_t n;

	while (r->len - r->pos < want && !r->eof) {
		if (r->pos > 0 && (r->cap - r->len < 48 ||
		    r->cap - r->pos < want)) {
			memmove(r->buf, r->buf + r->pos, r->len - r->pos);
			r->len -= r->pos;
			r->pos = 0;
		}
		/* The armor decoder needs room for a line: with less, what
		 * is there is plenty (cap is far above any want here). */
		if (r->cap - r->len < 48)
			break;
		n = src_read(r->src, r->buf + r->len, r->cap - r->len, err);
		if (n < 0)
			return -1;
		if (n == 0)
			r->eof = 1;
		r->len += (size_t)n;
	}
	return (ssize_t)(r->len - r->pos);
}

/* The next header line, without its "\n", NUL-terminated in the buffer
 * (valid until the next call).  Returns its length, or -1. */
static ssize_t
rd_line(struct rd *r, char **line, struct bk_age_stats *st,
    struct bk_err *err)
{
	unsigned char *nl;
	size_t scanned = 0;
	ssize_t avail;

	for (;;) {
		avail = (ssize_t)(r->len - r->pos);
		nl = memchr(r->buf + r->pos + scanned, '\n',
		    (size_t)avail - scanned);
		if (nl != NULL)
			break;
		scanned = (size_t)avail;
		if (scanned >= LINE_MAX_LEN)
			return fail(st, BK_AGE_FAIL_HEADER, err,
			    "header: line too long");
		if ((avail = rd_fill(r, scanned + 1, err)) < 0)
			return -1;
		if ((size_t)avail <= scanned)
			return fail(st, BK_AGE_FAIL_HEADER, err, "header: %s",
			    r->len == 0 ? "empty input" :
			    "unexpected end of input");
	}
	*nl = '\0';
	*line = (char *)r->buf + r->pos;
	r->pos = (size_t)(nl - r->buf) + 1;
	return nl - (unsigned char *)*line;
}

/* ------------------------------------------------------------------ */
/* Decryption: header */

struct stanza {
	char		*type;		/* first argument */
	char		*args[3];	/* the next ones, if any */
	int		 argc;		/* arguments after the type */
	unsigned char	*body;
	size_t		 bodylen;
};

struct header {
	struct text	 raw;		/* header text up to "---" (MAC'd) */
	struct stanza	 s[STANZA_MAX];
	int		 n;
	unsigned char	 mac[32];
};

static void
header_free(struct header *h)
{
	int i, j;

	for (i = 0; i < h->n; i++) {
		free(h->s[i].type);
		for (j = 0; j < 3; j++)
			free(h->s[i].args[j]);
		free(h->s[i].body);
	}
	free(h->raw.p);
}

static int
vchar_only(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

/* Split "-> a b c" (without "-> ") into the stanza's arguments. */
static int
parse_args(struct stanza *st, char *line)
{
	char *p = line, *sp;
	int i = -1;

	for (;;) {
		sp = strchr(p, ' ');
		if (sp != NULL)
			*sp = '\0';
		if (*p == '\0' || !vchar_only(p))
			return -1;
		if (i < 0)
			st->type = strdup(p);
		else if (i < 3)
			st->args[i] = strdup(p);
		i++;
		if (sp == NULL)
			break;
		p = sp + 1;
	}
	st->argc = i;
	return st->type == NULL ? -1 : 0;
}

/* Read a stanza body: full 64-column lines, then one shorter line. */
static int
parse_body(struct rd *r, struct header *h, struct stanza *st,
    struct bk_age_stats *sst, struct bk_err *err)
{
	struct text b64 = { NULL, 0, 0 };
	ssize_t n, d;
	char *line;
	int rc = -1;

	do {
		if ((n = rd_line(r, &line, sst, err)) < 0)
			goto out;
		if (n > ARMOR_COLS) {
			fail(sst, BK_AGE_FAIL_HEADER, err,
			    "header: stanza body line longer than 64 columns");
			goto out;
		}
		if (text_add(&b64, line, (size_t)n) < 0 ||
		    text_add(&h->raw, line, (size_t)n) < 0 ||
		    text_add(&h->raw, "\n", 1) < 0) {
			fail(sst, BK_AGE_FAIL_HEADER, err, "header: too large");
			goto out;
		}
	} while (n == ARMOR_COLS);
	st->body = malloc(b64.len * 3 / 4 + 1);
	if (st->body == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "header");
		goto out;
	}
	d = bk_b64_decode_raw(st->body, b64.p ? b64.p : "", b64.len);
	if (d < 0) {
		fail(sst, BK_AGE_FAIL_HEADER, err,
		    "header: stanza body is not canonical base64");
		goto out;
	}
	st->bodylen = (size_t)d;
	rc = 0;
out:
	free(b64.p);
	return rc;
}

static int
parse_header(struct rd *r, struct header *h, struct bk_age_stats *sst,
    struct bk_err *err)
{
	struct stanza *st;
	ssize_t n;
	char *line;

	if ((n = rd_line(r, &line, sst, err)) < 0)
		return -1;
	if (strcmp(line, VERSION_LINE) != 0)
		return fail(sst, BK_AGE_FAIL_HEADER, err, "header: %s",
		    strncmp(line, "age-encryption.org/", 19) == 0 ?
		    "unsupported version" : "not an age file");
	if (text_str(&h->raw, VERSION_LINE "\n") < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "header");
	for (;;) {
		if ((n = rd_line(r, &line, sst, err)) < 0)
			return -1;
		if (strncmp(line, "---", 3) == 0)
			break;
		if (strncmp(line, "-> ", 3) != 0)
			return fail(sst, BK_AGE_FAIL_HEADER, err,
			    "header: malformed line");
		if (h->n == STANZA_MAX)
			return fail(sst, BK_AGE_FAIL_HEADER, err,
			    "header: too many stanzas");
		if (text_add(&h->raw, line, (size_t)n) < 0 ||
		    text_add(&h->raw, "\n", 1) < 0)
			return fail(sst, BK_AGE_FAIL_HEADER, err,
			    "header: too large");
		st = &h->s[h->n++];
		if (parse_args(st, line + 3) < 0)
			return fail(sst, BK_AGE_FAIL_HEADER, err,
			    "header: malformed stanza arguments");
		if (parse_body(r, h, st, sst, err) < 0)
			return -1;
	}
	/* "--- " and the MAC: exactly 43 canonical base64 characters. */
	if (n != 4 + 43 || line[3] != ' ' ||
	    bk_b64_decode_raw(h->mac, line + 4, 43) != 32)
		return fail(sst, BK_AGE_FAIL_HEADER, err,
		    "header: malformed MAC line");
	if (text_str(&h->raw, "---") < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "header");
	return 0;
}

/* Decode a base64 stanza argument of exactly want bytes. */
static int
arg_bytes(const char *arg, unsigned char *out, size_t want)
{
	unsigned char buf[64];
	size_t len = strlen(arg);

	if (len > BK_B64_RAWLEN(sizeof(buf)) ||
	    bk_b64_decode_raw(buf, arg, len) != (ssize_t)want)
		return -1;
	memcpy(out, buf, want);
	return 0;
}

/* Try the identities on an X25519 stanza.  1: unwrapped into fk, 0: none
 * matched, -1: malformed. */
static int
unwrap_x25519(const struct stanza *st, const struct bk_age_keyring *k,
    unsigned char fk[FILE_KEY], struct bk_age_stats *sst, struct bk_err *err)
{
	unsigned char share[32], shared[32], salt[64], key[32];
	size_t i;
	int rc = 0;

	if (st->argc != 1 || arg_bytes(st->args[0], share, 32) < 0)
		return fail(sst, BK_AGE_FAIL_HEADER, err,
		    "header: malformed X25519 stanza");
	if (st->bodylen != FILE_KEY + TAG)
		return fail(sst, BK_AGE_FAIL_HEADER, err,
		    "header: X25519 stanza body is not a 16-byte file key");
	for (i = 0; i < k->n && rc == 0; i++) {
		if (x25519(k->id[i].sk, share, shared) < 0) {
			rc = fail(sst, BK_AGE_FAIL_HEADER, err, "header: "
			    "X25519 share is a low-order point");
			break;
		}
		memcpy(salt, share, 32);
		memcpy(salt + 32, k->id[i].pk, 32);
		if (hkdf(shared, 32, salt, 64, X25519_INFO, key) < 0) {
			rc = bk_err_set(err, BK_EXIT_RUNTIME, "HKDF failed");
			break;
		}
		if (wrap(0, key, st->body, FILE_KEY, fk) == 0)
			rc = 1;
	}
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* The work factor: decimal, no sign, no leading zero. */
static int
parse_logn(const char *s, unsigned *logn)
{
	unsigned v = 0;

	if (*s < '1' || *s > '9' || strlen(s) > 2)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*logn = v;
	return 0;
}

static int
unwrap_scrypt(const struct stanza *st, const struct bk_age_keyring *k,
    unsigned char fk[FILE_KEY], struct bk_age_stats *sst, struct bk_err *err)
{
	unsigned char salt[16], key[32];
	unsigned logn;
	int rc = 0;

	if (st->argc != 2 || arg_bytes(st->args[0], salt, 16) < 0 ||
	    parse_logn(st->args[1], &logn) < 0 || logn > 63)
		return fail(sst, BK_AGE_FAIL_HEADER, err,
		    "header: malformed scrypt stanza");
	if (st->bodylen != FILE_KEY + TAG)
		return fail(sst, BK_AGE_FAIL_HEADER, err,
		    "header: scrypt stanza body is not a 16-byte file key");
	if (logn > k->max_logn)
		return fail(sst, BK_AGE_FAIL_HEADER, err, "scrypt work factor "
		    "%u is above the limit of %u (--max-work-factor to "
		    "raise it)", logn, k->max_logn);
	if (k->pass.len == 0)
		return 0;
	if (scrypt_key(&k->pass, salt, logn, key) < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "scrypt: work factor %u: out of memory", logn);
	if (wrap(0, key, st->body, FILE_KEY, fk) == 0)
		rc = 1;
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* Find the file key.  0 with fk, or -1 with err. */
static int
unwrap(const struct header *h, const struct bk_age_keyring *k,
    unsigned char fk[FILE_KEY], struct bk_age_stats *sst, struct bk_err *err)
{
	int i, r, scrypt = 0, x = 0;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->s[i].type, "scrypt") == 0)
			scrypt++;
	if (scrypt > 0 && h->n > 1)
		return fail(sst, BK_AGE_FAIL_HEADER, err,
		    "header: a scrypt stanza must be alone");
	for (i = 0; i < h->n; i++) {
		if (strcmp(h->s[i].type, "X25519") == 0) {
			x++;
			r = unwrap_x25519(&h->s[i], k, fk, sst, err);
		} else if (strcmp(h->s[i].type, "scrypt") == 0)
			r = unwrap_scrypt(&h->s[i], k, fk, sst, err);
		else
			continue;	/* unknown types are for others */
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	if (scrypt > 0 && k->pass.len == 0)
		return fail(sst, BK_AGE_FAIL_NOMATCH, err, "the file is "
		    "encrypted with a passphrase: give --passphrase-file, "
		    "--passphrase-fd or BK_PASSPHRASE");
	if (scrypt > 0)
		return fail(sst, BK_AGE_FAIL_NOMATCH, err,
		    "wrong passphrase");
	if (x > 0 && k->n == 0)
		return fail(sst, BK_AGE_FAIL_NOMATCH, err, "the file is "
		    "encrypted to X25519 recipients: give an identity (-i)");
	return fail(sst, BK_AGE_FAIL_NOMATCH, err,
	    "no identity matches any recipient of the file");
}

/* ------------------------------------------------------------------ */
/* Decryption: payload */

struct dec {
	const struct bk_age_opts *o;
	struct bk_age_stats *st;
	EVP_CIPHER_CTX	*c;
	struct bk_par	 par;
	struct batch	*b;
	unsigned char	 key[32];
	unsigned char	*out;		/* plaintext not yet written */
	size_t		 olen;
	uint64_t	 counter;
};

static int
dec_flush(struct dec *d, struct bk_err *err)
{
	if (d->olen > 0 && d->o->out >= 0 && bk_io_write_all(d->o->out,
	    d->out, d->olen, "output", err) < 0)
		return -1;
	d->st->out += d->olen;
	d->olen = 0;
	return 0;
}

/* Open one chunk of len bytes (with its tag) into the output buffer,
 * released once its tag checked.  0 ok, -1 the tag did not check. */
static int
dec_chunk(struct dec *d, const unsigned char *in, size_t len, int last)
{
	unsigned char nonce[12];

	chunk_nonce(nonce, d->counter, last);
	if (aead(d->c, 0, d->key, nonce, in, len - TAG, d->out + d->olen) < 0)
		return -1;
	d->olen += len - TAG;
	d->counter++;
	return 0;
}

/* The end of input: blame the upstream first if it failed. */
static int
dec_eof(struct dec *d, struct bk_err *err)
{
	if (d->o->at_eof != NULL && d->o->at_eof(d->o->at_eof_arg,
	    &d->st->upstream, err) < 0)
		return -1;
	if (d->st->upstream == BK_SEAL_FAILED)
		return bk_err_set(err, BK_EXIT_UPSTREAM,
		    "upstream failed: the input is incomplete");
	return 0;
}

/*
 * The STREAM: a full-size chunk is tried as a middle chunk first, then as
 * the final one; a shorter chunk must be the final one, and only the
 * first chunk may be empty.  Nothing may follow the final chunk.
 */
static int
dec_payload(struct dec *d, struct rd *r, struct bk_err *err)
{
	struct bk_age_stats *st = d->st;
	const unsigned char *p;
	ssize_t avail;
	size_t len, k, j;

	for (;;) {
		/* Full chunks with data after them are middle chunks (or a
		 * final chunk followed by garbage): open them on several
		 * threads, up to the first that does not check. */
		if ((avail = rd_fill(r, BATCH * ENC_CHUNK + 1, err)) < 0)
			return -1;
		k = avail > 0 ? ((size_t)avail - 1) / ENC_CHUNK : 0;
		if (k > BATCH)
			k = BATCH;
		if (k > 1) {
			if (dec_flush(d, err) < 0)
				return -1;
			d->b->in = r->buf + r->pos;
			d->b->out = d->out;
			d->b->base = d->counter;
			bk_par_run(&d->par, open_item, d->b, k);
			for (j = 0; j < k && !d->b->bad[j]; j++)
				;
			d->olen = j * BK_AGE_CHUNK;
			d->counter += j;
			r->pos += j * ENC_CHUNK;
			if (j == k)
				continue;
		}
		/* One chunk at a time: the end of the stream, or a chunk
		 * that did not open as a middle chunk. */
		if ((avail = rd_fill(r, ENC_CHUNK + 1, err)) < 0)
			return -1;
		p = r->buf + r->pos;
		len = (size_t)avail < ENC_CHUNK ? (size_t)avail : ENC_CHUNK;
		if (d->olen + BK_AGE_CHUNK > BATCH * BK_AGE_CHUNK &&
		    dec_flush(d, err) < 0)
			return -1;
		if (len == ENC_CHUNK) {
			r->pos += len;
			if (dec_chunk(d, p, len, 0) == 0)
				continue;
			if (dec_chunk(d, p, len, 1) < 0)
				return fail(st, BK_AGE_FAIL_PAYLOAD, err,
				    "chunk %ju: authentication failed "
				    "(corrupt or altered data)",
				    (uintmax_t)d->counter);
			if ((size_t)avail > len)
				return fail(st, BK_AGE_FAIL_PAYLOAD, err,
				    "data after the final chunk");
			return dec_eof(d, err);
		}
		/* A short chunk: the input has ended. */
		r->pos += len;
		if (dec_eof(d, err) < 0)
			return -1;
		if (len == 0)
			return fail(st, BK_AGE_FAIL_PAYLOAD, err,
			    d->counter == 0 ? "no payload chunks" :
			    "truncated: the final chunk is missing");
		if (len < TAG)
			return fail(st, BK_AGE_FAIL_PAYLOAD, err,
			    "truncated chunk %ju", (uintmax_t)d->counter);
		if (dec_chunk(d, p, len, 1) < 0)
			return fail(st, BK_AGE_FAIL_PAYLOAD, err, "chunk %ju: "
			    "authentication failed (corrupt, altered or "
			    "truncated data)", (uintmax_t)d->counter);
		if (len == TAG && d->counter > 1) {
			/* Released nothing: the chunk was empty. */
			return fail(st, BK_AGE_FAIL_PAYLOAD, err,
			    "empty final chunk after data");
		}
		return 0;
	}
}

int
bk_age_decrypt(const struct bk_age_opts *o, const struct bk_age_keyring *k,
    struct bk_age_stats *st, struct bk_err *err)
{
	unsigned char fk[FILE_KEY], nonce[16], mac[32];
	struct header *h = NULL;
	struct src *s = NULL;
	struct rd r;
	struct dec d;
	ssize_t n;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	memset(&r, 0, sizeof(r));
	memset(&d, 0, sizeof(d));
	d.o = o;
	d.st = st;
	s = calloc(1, sizeof(*s));
	h = calloc(1, sizeof(*h));
	r.cap = BATCH * ENC_CHUNK + 64;
	r.buf = malloc(r.cap);
	d.out = malloc(BATCH * BK_AGE_CHUNK);
	d.c = EVP_CIPHER_CTX_new();
	d.b = malloc(sizeof(*d.b));
	if (s == NULL || h == NULL || r.buf == NULL || d.out == NULL ||
	    d.c == NULL || d.b == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "decrypt");
		goto out;
	}
	s->o = o;
	s->st = st;
	r.src = s;
	if (src_start(s, err) < 0 || parse_header(&r, h, st, err) < 0)
		goto out;
	if (unwrap(h, k, fk, st, err) < 0)
		goto out;
	if (header_mac(fk, &h->raw, mac) < 0) {
		bk_err_set(err, BK_EXIT_RUNTIME, "HMAC failed");
		goto out;
	}
	if (CRYPTO_memcmp(mac, h->mac, 32) != 0) {
		fail(st, BK_AGE_FAIL_HMAC, err,
		    "header MAC mismatch: the header was altered");
		goto out;
	}
	if ((n = rd_fill(&r, 16, err)) < 0)
		goto out;
	if (n < 16) {
		if (dec_eof(&d, err) == 0)
			fail(st, BK_AGE_FAIL_HEADER, err,
			    "truncated: no payload nonce");
		goto out;
	}
	memcpy(nonce, r.buf + r.pos, 16);
	r.pos += 16;
	if (hkdf(fk, FILE_KEY, nonce, 16, "payload", d.key) < 0) {
		bk_err_set(err, BK_EXIT_RUNTIME, "HKDF failed");
		goto out;
	}
	if (batch_init(d.b, &d.par, o, 0, err) < 0)
		goto out;
	d.b->key = d.key;
	rc = dec_payload(&d, &r, err);
	bk_par_free(&d.par);
	batch_free(d.b);
	/* What was authenticated is released, even before a failure. */
	if (rc == 0)
		rc = dec_flush(&d, err);
	else {
		struct bk_err ignored;
		(void)dec_flush(&d, &ignored);
	}
out:
	if (rc < 0 && st->fail == BK_AGE_OK)
		st->fail = BK_AGE_FAIL_OTHER;
	OPENSSL_cleanse(fk, sizeof(fk));
	OPENSSL_cleanse(d.key, sizeof(d.key));
	if (h != NULL)
		header_free(h);
	free(h);
	free(s);
	free(r.buf);
	if (d.out != NULL) {
		OPENSSL_cleanse(d.out, BATCH * BK_AGE_CHUNK);
		free(d.out);
	}
	EVP_CIPHER_CTX_free(d.c);
	free(d.b);
	return rc;
}
