/*
 * b64.h - strict base64 (RFC 4648, standard alphabet).
 *
 * The decoders are strict on purpose: a format with a MAC over its text
 * (age) must not accept two spellings of the same bytes.
 */
#ifndef BK_B64_H
#define BK_B64_H

#include <stddef.h>
#include <sys/types.h>

/* Length of the unpadded encoding of n bytes. */
#define BK_B64_RAWLEN(n)	(((n) * 4 + 2) / 3)
/* Length of the padded encoding of n bytes. */
#define BK_B64_PADLEN(n)	(((n) + 2) / 3 * 4)

/*
 * Encode n bytes of in into out (which must hold BK_B64_PADLEN(n) + 1 or
 * BK_B64_RAWLEN(n) + 1 bytes), with '=' padding if pad is set, and a
 * terminating NUL.  Returns the length written (without the NUL).
 */
size_t	bk_b64_encode(char *out, const unsigned char *in, size_t n, int pad);

/*
 * Decode exactly len characters of unpadded base64 at in into out (room
 * for len * 3 / 4 bytes).  Refuses any character outside the alphabet,
 * '=' padding, a length that cannot be an unpadded encoding (len % 4 ==
 * 1), and a non-canonical encoding (unused low bits of the last character
 * not zero).  Returns the number of bytes decoded, or -1.
 */
ssize_t	bk_b64_decode_raw(unsigned char *out, const char *in, size_t len);

/*
 * Decode padded base64 (len a multiple of 4, '=' only at the end, at most
 * two of them, canonical).  Returns the number of bytes, or -1.
 */
ssize_t	bk_b64_decode_pad(unsigned char *out, const char *in, size_t len);

#endif
