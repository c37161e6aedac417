/* b64.c - unit tests of lib/b64.c: strict base64. */
#include <string.h>

#include "b64.h"
#include "tap.h"

static void
dec_raw(const char *in, const char *want, const char *what)
{
	unsigned char out[128];
	ssize_t n = bk_b64_decode_raw(out, in, strlen(in));

	if (want == NULL)
		is_int(n, -1, "raw %s refused: \"%s\"", what, in);
	else
		is_mem(out, n < 0 ? 0 : (size_t)n, want, strlen(want),
		    "raw %s: \"%s\"", what, in);
}

int
main(void)
{
	char buf[128];
	unsigned char out[128];
	static const char *rfc[][3] = {
		{ "", "", "" }, { "f", "Zg==", "Zg" }, { "fo", "Zm8=", "Zm8" },
		{ "foo", "Zm9v", "Zm9v" }, { "foob", "Zm9vYg==", "Zm9vYg" },
		{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
	};
	size_t i;

	/* RFC 4648 section 10 vectors, both ways, padded and not. */
	for (i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		bk_b64_encode(buf, (const unsigned char *)rfc[i][0],
		    strlen(rfc[i][0]), 1);
		is_str(buf, rfc[i][1], "encode \"%s\" padded", rfc[i][0]);
		bk_b64_encode(buf, (const unsigned char *)rfc[i][0],
		    strlen(rfc[i][0]), 0);
		is_str(buf, rfc[i][2], "encode \"%s\" raw", rfc[i][0]);
		dec_raw(rfc[i][2], rfc[i][0], "decode");
		is_int(bk_b64_decode_pad(out, rfc[i][1], strlen(rfc[i][1])),
		    (long long)strlen(rfc[i][0]), "padded decode \"%s\"",
		    rfc[i][1]);
	}
	dec_raw("Zg==", NULL, "padding");
	dec_raw("Zh", NULL, "non-canonical (unused bits set)");
	dec_raw("Zm9", NULL, "non-canonical 2-byte tail");
	dec_raw("Z", NULL, "impossible length");
	dec_raw("Zm 9v", NULL, "blank");
	dec_raw("Zm9v\n", NULL, "newline");
	dec_raw("Zm-v", NULL, "URL alphabet");
	dec_raw("Zm9v", "foo", "plain");
	is_int(bk_b64_decode_pad(out, "Zg=", 3), -1, "padded: short");
	is_int(bk_b64_decode_pad(out, "Z===", 4), -1, "padded: three '='");
	is_int(bk_b64_decode_pad(out, "Zg=a", 4), -1, "padded: '=' inside");
	is_int(bk_b64_decode_pad(out, "Zh==", 4), -1,
	    "padded: non-canonical");
	is_int(bk_b64_decode_pad(out, "Zm9vYg", 6), -1,
	    "padded: missing padding");
	return done_testing();
}
