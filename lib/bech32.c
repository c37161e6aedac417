/* bech32.c - Bech32 (BIP 173) as age uses it for keys. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "bech32.h"

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static unsigned
polymod(unsigned chk, unsigned v)
{
	static const unsigned gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa,
	    0x3d4233dd, 0x2a1462b3 };
	unsigned top = chk >> 25;
	int i;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

static unsigned
hrp_chk(const char *hrp, size_t n)
{
	unsigned chk = 1;
	size_t i;

	for (i = 0; i < n; i++)
		chk = polymod(chk, (unsigned)tolower((unsigned char)hrp[i]) >> 5);
	chk = polymod(chk, 0);
	for (i = 0; i < n; i++)
		chk = polymod(chk, (unsigned)tolower((unsigned char)hrp[i]) & 31);
	return chk;
}

int
bk_bech32_encode(char *out, size_t size, const char *hrp,
    const unsigned char *data, size_t n, int upper)
{
	size_t hl = strlen(hrp), o, i;
	unsigned chk, acc = 0, v;
	int bits = 0;

	if (hl + 1 + (n * 8 + 4) / 5 + 6 + 1 > size)
		return -1;
	for (o = 0; o < hl; o++)
		out[o] = (char)tolower((unsigned char)hrp[o]);
	out[o++] = '1';
	chk = hrp_chk(hrp, hl);
	for (i = 0; i < n; i++) {
		acc = (acc << 8) | data[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			v = (acc >> bits) & 31;
			chk = polymod(chk, v);
			out[o++] = charset[v];
		}
	}
	if (bits > 0) {
		v = (acc << (5 - bits)) & 31;
		chk = polymod(chk, v);
		out[o++] = charset[v];
	}
	for (i = 0; i < 6; i++)
		chk = polymod(chk, 0);
	chk ^= 1;
	for (i = 0; i < 6; i++)
		out[o++] = charset[(chk >> (5 * (5 - i))) & 31];
	out[o] = '\0';
	if (upper)
		for (i = 0; i < o; i++)
			out[i] = (char)toupper((unsigned char)out[i]);
	return (int)o;
}

ssize_t
bk_bech32_decode(unsigned char *data, size_t size, const char *hrp,
    const char *s)
{
	size_t len = strlen(s), hl, i, o = 0;
	int lower = 0, upper = 0, bits = 0;
	unsigned chk, acc = 0;
	const char *sep, *p;

	for (i = 0; i < len; i++) {
		if (s[i] < 33 || s[i] > 126)
			return -1;
		if (islower((unsigned char)s[i]))
			lower = 1;
		if (isupper((unsigned char)s[i]))
			upper = 1;
	}
	if (lower && upper)
		return -1;
	if ((sep = strrchr(s, '1')) == NULL)
		return -1;
	hl = (size_t)(sep - s);
	if (hl != strlen(hrp) || strncasecmp(s, hrp, hl) != 0)
		return -1;
	if (len - hl - 1 < 6)
		return -1;
	chk = hrp_chk(s, hl);
	for (i = hl + 1; i < len; i++) {
		p = strchr(charset, tolower((unsigned char)s[i]));
		if (p == NULL)
			return -1;
		chk = polymod(chk, (unsigned)(p - charset));
		if (i >= len - 6)
			continue;
		acc = (acc << 5) | (unsigned)(p - charset);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o >= size)
				return -1;
			data[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (chk != 1)
		return -1;
	/* At most 4 padding bits, all zero. */
	if (bits > 4 || acc != 0)
		return -1;
	return (ssize_t)o;
}
