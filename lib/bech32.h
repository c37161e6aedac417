/*
 * bech32.h - Bech32 (BIP 173) as age uses it for keys: no length limit,
 * one case throughout.
 */
#ifndef BK_BECH32_H
#define BK_BECH32_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Encode n bytes of data with human-readable part hrp into out (size
 * bytes; needs strlen(hrp) + 1 + ceil(n * 8 / 5) + 6 + 1).  The result is
 * lower case, or upper case if upper is set.  Returns the length, or -1
 * if it does not fit.
 */
int	bk_bech32_encode(char *out, size_t size, const char *hrp,
	    const unsigned char *data, size_t n, int upper);

/*
 * Decode s: its human-readable part must equal hrp (compared without
 * regard to case), the string must be all lower or all upper case, the
 * checksum must hold and the padding bits must be zero.  Writes up to
 * size bytes into data.  Returns the number of bytes, or -1.
 */
ssize_t	bk_bech32_decode(unsigned char *data, size_t size, const char *hrp,
	    const char *s);

#endif
