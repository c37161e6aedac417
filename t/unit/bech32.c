/* bech32.c - unit tests of lib/bech32.c. */
#include <string.h>

#include "bech32.h"
#include "tap.h"

int
main(void)
{
	unsigned char data[64], back[64];
	char s[200];
	size_t i;
	int n;

	/* BIP 173 valid strings with an empty data part. */
	is_int(bk_bech32_decode(back, sizeof(back), "a", "a12uel5l"), 0,
	    "BIP 173: a12uel5l");
	is_int(bk_bech32_decode(back, sizeof(back), "a", "A12UEL5L"), 0,
	    "BIP 173: upper case");
	is_int(bk_bech32_decode(back, sizeof(back), "a", "A12uEL5L"), -1,
	    "mixed case refused");
	is_int(bk_bech32_decode(back, sizeof(back), "a", "a12uel5m"), -1,
	    "bad checksum refused");
	is_int(bk_bech32_decode(back, sizeof(back), "b", "a12uel5l"), -1,
	    "other prefix refused");
	is_int(bk_bech32_decode(back, sizeof(back), "a", "a1uel5l"), -1,
	    "short data refused");
	is_int(bk_bech32_decode(back, sizeof(back), "a", "a12ubl5l"), -1,
	    "character outside the charset refused");

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (i = 0; i <= 40; i += 8) {
		n = bk_bech32_encode(s, sizeof(s), "age", data, i, 0);
		ok(n > 0, "encode %zu bytes: %s", i, s);
		is_int(bk_bech32_decode(back, sizeof(back), "age", s),
		    (long long)i, "decode %zu bytes back", i);
		ok(memcmp(back, data, i) == 0, "same %zu bytes", i);
	}
	n = bk_bech32_encode(s, sizeof(s), "AGE-SECRET-KEY-", data, 32, 1);
	ok(n > 0 && strncmp(s, "AGE-SECRET-KEY-1", 16) == 0,
	    "upper-case encoding: %s", s);
	is_int(bk_bech32_decode(back, sizeof(back), "AGE-SECRET-KEY-", s), 32,
	    "upper-case decodes");
	is_int(bk_bech32_encode(s, 10, "age", data, 32, 0), -1,
	    "too small a buffer refused");
	is_int(bk_bech32_decode(back, 8, "age",
	    "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"),
	    -1, "too small an output refused");
	return done_testing();
}
