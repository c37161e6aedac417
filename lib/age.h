/*
 * age.h - the age v1 file format (age-encryption.org/v1): keys, header,
 * STREAM payload, ASCII armor.
 *
 * Encryption wraps a random 16-byte file key for every recipient: X25519
 * public keys ("age1...") or one passphrase (scrypt).  The payload is cut
 * into 64 KiB chunks sealed with ChaCha20-Poly1305.  Decryption tries every
 * identity against every stanza, checks the header MAC, and releases each
 * chunk only after its tag is checked.  Memory is bounded whatever the
 * length of the stream; key material is wiped after use.
 */
#ifndef BK_AGE_H
#define BK_AGE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "seal.h"
#include "secret.h"

struct bk_progress;

#define BK_AGE_CHUNK		65536
#define BK_AGE_LOGN_DEFAULT	18	/* scrypt work factor, encryption */
#define BK_AGE_LOGN_MAX		22	/* highest accepted on decryption */
#define BK_AGE_RECIPIENT_MAX	128	/* "age1" + bech32 of 32 bytes */
#define BK_AGE_IDENTITY_MAX	128

/* Why a decryption failed (the categories of the age test vectors). */
enum bk_age_fail {
	BK_AGE_OK = 0,
	BK_AGE_FAIL_HEADER,	/* malformed header or stanza */
	BK_AGE_FAIL_NOMATCH,	/* no identity opens any stanza */
	BK_AGE_FAIL_HMAC,	/* header MAC mismatch */
	BK_AGE_FAIL_PAYLOAD,	/* bad tag, truncated, data after the end */
	BK_AGE_FAIL_ARMOR,	/* malformed ASCII armor */
	BK_AGE_FAIL_OTHER	/* I/O, upstream, resources */
};

struct bk_age_identity {
	unsigned char	sk[32];		/* X25519 secret scalar */
	unsigned char	pk[32];		/* its public key */
};

/* What encryption wraps the file key for. */
struct bk_age_recipients {
	unsigned char	(*pk)[32];	/* X25519 public keys */
	size_t		 n;
	struct bk_secret pass;		/* passphrase (scrypt), len 0: none */
	unsigned	 logn;		/* scrypt work factor */
};

/* What decryption may use. */
struct bk_age_keyring {
	struct bk_age_identity *id;
	size_t		 n;
	struct bk_secret pass;		/* passphrase, len 0: none */
	unsigned	 max_logn;	/* highest scrypt work factor */
};

/* Parse "age1..." into a public key.  -1 with err (BK_EXIT_USAGE). */
int	bk_age_recipient_parse(const char *s, unsigned char pk[32],
	    struct bk_err *err);

/* Format a public key as "age1..." into out (BK_AGE_RECIPIENT_MAX). */
void	bk_age_recipient_format(const unsigned char pk[32], char *out);

/* Parse "AGE-SECRET-KEY-1..." (upper case) into id, computing its public
 * key.  -1 with err. */
int	bk_age_identity_parse(const char *s, struct bk_age_identity *id,
	    struct bk_err *err);

/* Format an identity as "AGE-SECRET-KEY-1..." (BK_AGE_IDENTITY_MAX). */
void	bk_age_identity_format(const struct bk_age_identity *id, char *out);

/* A new random identity.  -1 with err. */
int	bk_age_keygen(struct bk_age_identity *id, struct bk_err *err);

/* Add a recipient string ("age1...") to r. */
int	bk_age_recipients_add(struct bk_age_recipients *r, const char *s,
	    struct bk_err *err);

/*
 * Add the recipients listed in the file at path: one "age1..." per line;
 * empty lines and lines starting with '#' are skipped; anything else is
 * an error naming the line.
 */
int	bk_age_recipients_file(struct bk_age_recipients *r, const char *path,
	    struct bk_err *err);

/* Free r and wipe its passphrase. */
void	bk_age_recipients_free(struct bk_age_recipients *r);

/*
 * Add the identities in the identity file at path (which must be mode
 * 0600 or stricter, see bk_secret_from_file()): "AGE-SECRET-KEY-1..."
 * lines, empty lines and '#' comments.
 */
int	bk_age_keyring_file(struct bk_age_keyring *k, const char *path,
	    struct bk_err *err);

/*
 * Add the identities in text (identity file syntax; text->data is
 * modified); name is for messages.
 */
int	bk_age_keyring_add(struct bk_age_keyring *k, struct bk_secret *text,
	    const char *name, struct bk_err *err);

/* Wipe and free k. */
void	bk_age_keyring_free(struct bk_age_keyring *k);

struct bk_age_opts {
	int		 in;		/* input fd */
	int		 out;		/* output fd, -1 to discard */
	int		 armor;		/* encryption: write ASCII armor;
					 * decryption: require it */
	unsigned	 threads;	/* cipher threads, 0: automatic */
	bk_seal_eof_fn	 at_eof;	/* may be NULL */
	void		*at_eof_arg;
	struct bk_progress *progress;	/* input bytes, may be NULL */
	const void	*pre;		/* decryption: bytes already read from
					 * in, taken before it (a peek) */
	size_t		 prelen;
};

struct bk_age_stats {
	uint64_t	 in;		/* bytes read */
	uint64_t	 out;		/* bytes written (plaintext on decrypt) */
	enum bk_age_fail fail;		/* why decryption failed */
	enum bk_seal_state upstream;
};

/*
 * Encrypt o->in to o->out for r.  Returns 0, or -1 with err
 * (BK_EXIT_RUNTIME; BK_EXIT_UPSTREAM if the upstream failed, in which case
 * the final chunk is not written and the file does not decrypt).
 */
int	bk_age_encrypt(const struct bk_age_opts *o,
	    const struct bk_age_recipients *r, struct bk_age_stats *st,
	    struct bk_err *err);

/*
 * Decrypt o->in (binary or armored, detected) to o->out with k.  Returns
 * 0, or -1 with err: BK_EXIT_CHECK when the file is bad or no identity
 * matches (st->fail says which), BK_EXIT_RUNTIME for I/O,
 * BK_EXIT_UPSTREAM if the upstream failed.
 */
int	bk_age_decrypt(const struct bk_age_opts *o,
	    const struct bk_age_keyring *k, struct bk_age_stats *st,
	    struct bk_err *err);

#endif
