/*
 * deflate.c - the deflate encoder of deflate.h.
 *
 * Matching: head[] holds the last position of each 4-byte hash, prev[] (a
 * ring over the 32 KiB window) the position before it with the same hash,
 * so that a chain walks back through candidates; a one-entry table of
 * 3-byte hashes offers length-3 matches.  Positions are offsets into the
 * caller's buffer, dictionary included; head[] is cleared for each call
 * and a chain ends at the first position outside the window, so nothing
 * stale is ever followed.  A candidate is only ever taken after its bytes
 * are compared, so a chain that leads somewhere odd costs time, not
 * correctness.
 *
 * Parsing is zlib's lazy evaluation: a match found at p is emitted only
 * if the search at p + 1 finds nothing longer; otherwise p goes out as a
 * literal and the longer match waits for the same test.  A match is only
 * a candidate at all if it is expected to cost fewer bits than its bytes
 * as literals, by the code lengths of the block before (at the start of a
 * call, a guess from the first bytes' frequencies and the fixed codes):
 * in text, most short matches far back cost more than their literals.
 *
 * Coding: symbols collect in a buffer with their frequencies, 512 at a
 * time (a chunk).  After each chunk, if the chunk and the block before it
 * would cost fewer bits as two blocks than as one, by their entropy, the
 * block ends, at the point in the chunk where the two cost least; a block
 * also ends when full, and at the end of the input.  Each block is coded
 * with the cheapest of a stored block, the fixed codes and Huffman codes
 * built for it (lengths limited to 15 bits, 7 for the code-length code,
 * by moving the deepest leaves up as JPEG's Annex K does).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deflate.h"

#define WSIZE		32768
#define WMASK		(WSIZE - 1)
#define MAXDIST		(WSIZE - 1)	/* one short: see longest() */
#define MINMATCH	3
#define MAXMATCH	258
#define H4BITS		15
#define H3BITS		12
#define FAR3		4096		/* length-3 matches no further */
/* Blocks: symbols are weighed in chunks; a block ends after a chunk, or
 * inside it at a multiple of CUT, where two blocks cost fewer bits than
 * one (by their entropy, and SYMBITS and BLOCKBITS for the header), and
 * after NSYMS symbols at most. */
#define NSYMS		32768
#define CHUNK		512
#define CUT		32
#define SYMBITS		4
#define BLOCKBITS	80
/* Costs: the first estimate counts the literals of the first GUESS bytes;
 * a byte value not among them is taken to cost UNSEEN bits. */
#define GUESS		16384
#define UNSEEN		12

/* Search effort by level: the longest chain followed; a match long
 * enough that the chain is cut to a quarter for the search one position
 * ahead; one long enough that there is no such search; one long enough to
 * stop searching.  zlib's level 6 is 128, 8, 16, 128: here the chains are
 * much shorter (weighing matches against their literals makes up for
 * it), but the search one position ahead goes on after matches up to 128
 * bytes long, which is what finds the best match for the next row of a
 * padded table. */
static const struct effort {
	unsigned	chain, good, lazy, nice;
} efforts[] = {
	{    4,  4, 128, 128 },		/* 4 */
	{    8,  4, 128, 128 },		/* 5 */
	{   16,  4, 128, 128 },		/* 6 */
	{   48,  8, 128, 128 },		/* 7 */
	{  128,  8, 258, 258 },		/* 8 */
	{  512, 32, 258, 258 },		/* 9 */
};

#define NLL		286		/* literal/length symbols used */
#define ND		30		/* distance symbols used */
#define NCL		19		/* code-length symbols */

struct bk_deflate {
	struct effort	 e;
	int32_t		 head[1 << H4BITS];
	int32_t		 head3[1 << H3BITS];
	int32_t		 prev[WSIZE];
	uint16_t	 sl[NSYMS];	/* literal, or match length */
	uint16_t	 sd[NSYMS];	/* 0, or match distance */
	unsigned	 nsyms;
	uint32_t	 fll[NLL];	/* the block's frequencies, but for */
	uint32_t	 fd[ND];
	float		 bbits;		/* about the bits they take */
	unsigned	 csyms;		/* the last csyms symbols', here */
	uint32_t	 cll[NLL];
	uint32_t	 cd[ND];
	/* what each symbol is expected to cost, in bits, for the parse */
	uint8_t		 lcost[NLL];
	uint8_t		 dcost[ND];
	/* the fixed codes (RFC 1951, 3.2.6), made once */
	uint8_t		 fixl[288];
	uint8_t		 fixd[32];
	uint16_t	 fixlc[288];
	uint16_t	 fixdc[32];
	/* output */
	unsigned char	*out;
	size_t		 o;
	uint64_t	 acc;
	unsigned	 nacc;
};

/* Bits, least significant first. */
static inline void
put(struct bk_deflate *d, uint32_t bits, unsigned n)
{
	d->acc |= (uint64_t)bits << d->nacc;
	d->nacc += n;
	if (d->nacc >= 32) {
		d->out[d->o++] = (unsigned char)d->acc;
		d->out[d->o++] = (unsigned char)(d->acc >> 8);
		d->out[d->o++] = (unsigned char)(d->acc >> 16);
		d->out[d->o++] = (unsigned char)(d->acc >> 24);
		d->acc >>= 32;
		d->nacc -= 32;
	}
}

/* Out to the next byte boundary, padding with zero bits. */
static void
put_align(struct bk_deflate *d)
{
	while (d->nacc > 0) {
		d->out[d->o++] = (unsigned char)d->acc;
		d->acc >>= 8;
		d->nacc = d->nacc > 8 ? d->nacc - 8 : 0;
	}
	d->acc = 0;
}

static inline uint32_t
load32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t
load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline unsigned
hash4(const unsigned char *p)
{
	return (load32(p) * 0x9e3779b1u) >> (32 - H4BITS);
}

static inline unsigned
hash3(const unsigned char *p)
{
	return ((load32(p) & 0xffffff) * 0x9e3779b1u) >> (32 - H3BITS);
}

/* How many bytes a and b have in common, up to max. */
static inline unsigned
common(const unsigned char *a, const unsigned char *b, unsigned max)
{
	unsigned n = 0;
	uint64_t x;

	while (n + 8 <= max) {
		if ((x = load64(a + n) ^ load64(b + n)) != 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return n + (unsigned)__builtin_ctzll(x) / 8;
#else
			return n + (unsigned)__builtin_clzll(x) / 8;
#endif
		}
		n += 8;
	}
	while (n < max && a[n] == b[n])
		n++;
	return n;
}

/* Length and distance codes: the symbol's index among its kind (length
 * code 0 is symbol 257), from the length less 3 or the distance less 1. */
static inline unsigned
lcode(unsigned l)
{
	unsigned nb;

	if (l < 8)
		return l;
	if (l == 255)
		return 28;
	nb = 29 - (unsigned)__builtin_clz(l);
	return 4 * (nb + 1) + ((l >> nb) & 3);
}

static inline unsigned
lextra(unsigned c)
{
	return c < 8 || c == 28 ? 0 : (c - 4) / 4;
}

static inline unsigned
dcode(unsigned dm1)
{
	unsigned nb;

	if (dm1 < 4)
		return dm1;
	nb = 30 - (unsigned)__builtin_clz(dm1);
	return 2 * (nb + 1) + ((dm1 >> nb) & 1);
}

static inline unsigned
dextra(unsigned c)
{
	return c < 4 ? 0 : c / 2 - 1;
}

static void
enter(struct bk_deflate *d, const unsigned char *in, int32_t p)
{
	unsigned h = hash4(in + p);

	d->prev[p & WMASK] = d->head[h];
	d->head[h] = p;
	d->head3[hash3(in + p)] = p;
}

/*
 * The longest match for in[p] of more than best bytes (and at most max),
 * starting from chain candidate c; *dist gets its distance.  Positions
 * with distances up to MAXDIST are taken: the slot of p - 32768 in the
 * prev ring is p's own, overwritten by enter(p).
 */
static unsigned
longest(struct bk_deflate *d, const unsigned char *in, int32_t p,
    int32_t c, unsigned best, unsigned max, unsigned chain, unsigned *dist)
{
	const unsigned char *q = in + p;
	int32_t lo = p - MAXDIST;
	unsigned n;

	if (lo < 0)
		lo = 0;
	if (best >= max)
		return best;
	for (; c >= lo && chain-- > 0; c = d->prev[c & WMASK]) {
		const unsigned char *m = in + c;

		/* Most candidates differ within the length to beat, or
		 * at its end; best >= 3 and best < max keep both loads
		 * inside the input. */
		if (load32(m + best - 3) != load32(q + best - 3) ||
		    load32(m) != load32(q))
			continue;
		n = common(m + 4, q + 4, max - 4) + 4;
		if (n > best) {
			best = n;
			*dist = (unsigned)(p - c);
			if (n >= d->e.nice || n >= max)
				break;
		}
	}
	return best;
}

/* The bits a match is expected to cost. */
static inline unsigned
mcost(const struct bk_deflate *d, unsigned len, unsigned dist)
{
	unsigned lc = lcode(len - MINMATCH), dc = dcode(dist - 1);

	return d->lcost[257 + lc] + lextra(lc) + d->dcost[dc] + dextra(dc);
}

/* The bits n bytes at q are expected to cost as literals, up to cap. */
static inline unsigned
lcosts(const struct bk_deflate *d, const unsigned char *q, unsigned n,
    unsigned cap)
{
	unsigned l = 0, i;

	for (i = 0; i < n && l < cap; i++)
		l += d->lcost[q[i]];
	return l;
}

/* Whether a match of len bytes at q, dist back, is expected to cost fewer
 * bits than its bytes as literals. */
static inline int
worth(const struct bk_deflate *d, const unsigned char *q, unsigned len,
    unsigned dist)
{
	unsigned m = mcost(d, len, dist);

	return m < lcosts(d, q, len, m + 1);
}

static inline void
sym_lit(struct bk_deflate *d, unsigned char c)
{
	d->sl[d->nsyms] = c;
	d->sd[d->nsyms++] = 0;
	d->csyms++;
	d->cll[c]++;
}

static inline void
sym_match(struct bk_deflate *d, unsigned len, unsigned dist)
{
	d->sl[d->nsyms] = (uint16_t)len;
	d->sd[d->nsyms++] = (uint16_t)dist;
	d->csyms++;
	d->cll[257 + lcode(len - MINMATCH)]++;
	d->cd[dcode(dist - 1)]++;
}

/* Huffman code lengths */

struct node {
	uint32_t	w;
	uint16_t	sym;
};

static int
by_weight(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	if (x->w != y->w)
		return x->w < y->w ? -1 : 1;
	return (int)x->sym - (int)y->sym;
}

/*
 * Code lengths for n symbols of frequencies f, none longer than limit,
 * into len[].  At least two symbols get a code (the first unused ones
 * are given one when fewer are used), so that the code is complete.
 */
static void
lengths(const uint32_t *f, unsigned n, unsigned limit, uint8_t *len)
{
	struct node leaf[NLL];
	uint32_t w[2 * NLL];
	uint16_t parent[2 * NLL];
	unsigned depth[2 * NLL], count[2 * NLL + 1];
	unsigned nl = 0, i, li, ni, nn, k, j, maxd, s;

	memset(len, 0, n);
	for (i = 0; i < n; i++)
		if (f[i] > 0) {
			leaf[nl].w = f[i];
			leaf[nl++].sym = (uint16_t)i;
		}
	for (i = 0; nl < 2; i++)
		if (f[i] == 0) {
			leaf[nl].w = 1;
			leaf[nl++].sym = (uint16_t)i;
		}
	qsort(leaf, nl, sizeof(leaf[0]), by_weight);
	/* Two queues: the sorted leaves, nodes 0..nl-1, and the internal
	 * nodes nl.., made in order of weight. */
	for (i = 0; i < nl; i++)
		w[i] = leaf[i].w;
	li = 0;
	ni = nl;
	for (nn = nl; nn < 2 * nl - 1; nn++) {
		unsigned pick[2];

		for (k = 0; k < 2; k++) {
			if (li < nl && (ni >= nn || w[li] <= w[ni]))
				pick[k] = li++;
			else
				pick[k] = ni++;
		}
		w[nn] = w[pick[0]] + w[pick[1]];
		parent[pick[0]] = parent[pick[1]] = (uint16_t)nn;
	}
	/* Depths from the root (node nn - 1) down. */
	depth[nn - 1] = 0;
	memset(count, 0, sizeof(count));
	maxd = 0;
	for (i = nn - 1; i-- > 0;) {
		depth[i] = depth[parent[i]] + 1;
		if (i < nl) {
			count[depth[i]]++;
			if (depth[i] > maxd)
				maxd = depth[i];
		}
	}
	/* Too deep: take two leaves from the bottom, put their parent's
	 * place as a leaf, and hang the pair under a shallower leaf; Kraft's
	 * sum stays one. */
	for (i = maxd; i > limit; i--)
		while (count[i] > 0) {
			j = i - 2;
			while (count[j] == 0)
				j--;
			count[i] -= 2;
			count[i - 1]++;
			count[j + 1] += 2;
			count[j]--;
		}
	/* The rarest symbols get the longest codes. */
	s = 0;
	for (i = limit < maxd ? limit : maxd; i > 0; i--)
		for (k = 0; k < count[i]; k++)
			len[leaf[s++].sym] = (uint8_t)i;
}

/* Canonical codes for the lengths, bit-reversed for deflate's order. */
static void
codes(const uint8_t *len, unsigned n, uint16_t *code)
{
	unsigned count[16] = {0}, next[16], i, c, r, b;

	for (i = 0; i < n; i++)
		count[len[i]]++;
	count[0] = 0;
	c = 0;
	for (i = 1; i < 16; i++) {
		c = (c + count[i - 1]) << 1;
		next[i] = c;
	}
	for (i = 0; i < n; i++) {
		if (len[i] == 0)
			continue;
		c = next[len[i]]++;
		for (r = 0, b = 0; b < len[i]; b++)
			r |= ((c >> b) & 1) << (len[i] - 1 - b);
		code[i] = (uint16_t)r;
	}
}

static const uint8_t clorder[NCL] = {
	16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15
};

/* The code lengths of both trees, run-length coded: symbols 0-18, with a
 * repeat count in the high byte for 16, 17 and 18. */
static unsigned
rle(const uint8_t *l, unsigned n, uint16_t *out, uint32_t *f)
{
	unsigned i = 0, k, r, no = 0;

	while (i < n) {
		for (r = 1; i + r < n && l[i + r] == l[i]; r++)
			;
		if (l[i] == 0) {
			for (; r >= 11; r -= k, i += k) {
				k = r < 138 ? r : 138;
				out[no++] = (uint16_t)(18 | (k - 11) << 8);
				f[18]++;
			}
			if (r >= 3) {
				out[no++] = (uint16_t)(17 | (r - 3) << 8);
				f[17]++;
				i += r;
				r = 0;
			}
		} else {
			out[no++] = l[i];
			f[l[i]]++;
			i++;
			r--;
			for (; r >= 3; r -= k, i += k) {
				k = r < 6 ? r : 6;
				out[no++] = (uint16_t)(16 | (k - 3) << 8);
				f[16]++;
			}
		}
		for (; r > 0; r--, i++) {
			out[no++] = l[i];
			f[l[i]]++;
		}
	}
	return no;
}

static void
put_syms(struct bk_deflate *d, const uint8_t *ll, const uint16_t *llc,
    const uint8_t *dl, const uint16_t *dc)
{
	unsigned i, len, dist, c;

	for (i = 0; i < d->nsyms; i++) {
		if ((dist = d->sd[i]) == 0) {
			put(d, llc[d->sl[i]], ll[d->sl[i]]);
			continue;
		}
		len = d->sl[i] - MINMATCH;
		c = lcode(len);
		put(d, llc[257 + c], ll[257 + c]);
		if (lextra(c) > 0)
			put(d, len - ((4u + (c & 3)) << lextra(c)), lextra(c));
		c = dcode(dist - 1);
		put(d, dc[c], dl[c]);
		if (dextra(c) > 0)
			put(d, dist - 1 - ((2u + (c & 1)) << dextra(c)),
			    dextra(c));
	}
	put(d, llc[256], ll[256]);
}

static void
put_stored(struct bk_deflate *d, const unsigned char *p, size_t n)
{
	size_t k;

	do {
		k = n < 65535 ? n : 65535;
		put(d, 0, 3);
		put_align(d);
		d->out[d->o++] = (unsigned char)k;
		d->out[d->o++] = (unsigned char)(k >> 8);
		d->out[d->o++] = (unsigned char)~k;
		d->out[d->o++] = (unsigned char)(~k >> 8);
		memcpy(d->out + d->o, p, k);
		d->o += k;
		p += k;
		n -= k;
	} while (n > 0);
}

/* The bits that n symbols of frequencies f take with code lengths len. */
static uint64_t
bits(const uint32_t *f, const uint8_t *len, unsigned n)
{
	uint64_t b = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		b += (uint64_t)f[i] * len[i];
	return b;
}

/* Emit the symbols collected, which cover the n input bytes at p, as one
 * block: stored, fixed or dynamic, whichever is shortest. */
static void
flush_block(struct bk_deflate *d, const unsigned char *p, size_t n)
{
	uint8_t ll[NLL], dl[ND], all[NLL + ND], cl[NCL];
	uint16_t llc[NLL], dc[ND], clc[NCL], rl[NLL + ND];
	uint32_t fcl[NCL] = {0};
	uint64_t extra = 0, dyn, fix, sto;
	unsigned i, hlit, hdist, hclen, nrl, align;

	d->fll[256] = 1;
	for (i = 0; i < 29; i++)
		extra += (uint64_t)d->fll[257 + i] * lextra(i);
	for (i = 0; i < ND; i++)
		extra += (uint64_t)d->fd[i] * dextra(i);

	lengths(d->fll, NLL, 15, ll);
	lengths(d->fd, ND, 15, dl);
	for (i = 0; i < NLL; i++)
		d->lcost[i] = ll[i] > 0 ? ll[i] : d->fixl[i];
	for (i = 0; i < ND; i++)
		d->dcost[i] = dl[i] > 0 ? dl[i] : d->fixd[i];
	for (hlit = NLL; hlit > 257 && ll[hlit - 1] == 0; hlit--)
		;
	for (hdist = ND; hdist > 1 && dl[hdist - 1] == 0; hdist--)
		;
	memcpy(all, ll, hlit);
	memcpy(all + hlit, dl, hdist);
	nrl = rle(all, hlit + hdist, rl, fcl);
	lengths(fcl, NCL, 7, cl);
	for (hclen = NCL; hclen > 4 && cl[clorder[hclen - 1]] == 0; hclen--)
		;
	dyn = 3 + 5 + 5 + 4 + 3 * hclen + bits(fcl, cl, NCL) +
	    2 * fcl[16] + 3 * fcl[17] + 7 * fcl[18] +
	    bits(d->fll, ll, NLL) + bits(d->fd, dl, ND) + extra;
	fix = 3 + bits(d->fll, d->fixl, NLL) + bits(d->fd, d->fixd, ND) +
	    extra;

	/* The first stored block's header bits and padding, then whole
	 * bytes for the rest. */
	align = (8 - (d->nacc + 3) % 8) % 8;
	sto = 3 + align + 32 + 8 * (uint64_t)n;
	if (n > 65535)
		sto += (uint64_t)(8 + 32) * ((n - 1) / 65535);

	if (sto <= dyn && sto <= fix) {
		put_stored(d, p, n);
	} else if (fix <= dyn) {
		put(d, 2, 3);
		put_syms(d, d->fixl, d->fixlc, d->fixd, d->fixdc);
	} else {
		put(d, 4, 3);
		put(d, hlit - 257, 5);
		put(d, hdist - 1, 5);
		put(d, hclen - 4, 4);
		for (i = 0; i < hclen; i++)
			put(d, cl[clorder[i]], 3);
		codes(cl, NCL, clc);
		for (i = 0; i < nrl; i++) {
			unsigned s = rl[i] & 0xff;

			put(d, clc[s], cl[s]);
			if (s == 16)
				put(d, rl[i] >> 8, 2);
			else if (s == 17)
				put(d, rl[i] >> 8, 3);
			else if (s == 18)
				put(d, rl[i] >> 8, 7);
		}
		codes(ll, NLL, llc);
		codes(dl, ND, dc);
		put_syms(d, ll, llc, dl, dc);
	}
	d->nsyms = 0;
	memset(d->fll, 0, sizeof(d->fll));
	memset(d->fd, 0, sizeof(d->fd));
}

/* Where a block ends */

/* log2(x), to within 0.01: the float's exponent, and a parabola through
 * the mantissa. */
static inline float
flog2(uint32_t x)
{
	float f = (float)x;
	uint32_t b;
	int e;

	memcpy(&b, &f, sizeof(b));
	e = (int)((b >> 23) & 0xff) - 128;
	b = (b & 0x7fffff) | 0x3f800000;	/* 1 <= f < 2 */
	memcpy(&f, &b, sizeof(f));
	return (float)e + ((-1.0f / 3) * f + 2) * f - 2.0f / 3;
}

/* About the bits that t symbols take with a code made for them, from s,
 * the sum of f log2 f over their frequencies f, and the number of symbols
 * used: their entropy, and a few bits for each symbol used, for the
 * code's description. */
static inline float
code_bits(uint32_t t, float s, unsigned used)
{
	return t == 0 ? 0 : (float)t * flog2(t) - s + SYMBITS * (float)used;
}

/* The same for n symbols of frequencies f. */
static float
est_bits(const uint32_t *f, unsigned n)
{
	uint32_t t = 0;
	float s = 0;
	unsigned used = 0, i;

	for (i = 0; i < n; i++)
		if (f[i] > 0) {
			t += f[i];
			s += (float)f[i] * flog2(f[i]);
			used++;
		}
	return code_bits(t, s, used);
}

/* The same for g, into *gb, and for f + g, into *both, in one pass. */
static void
est_pair(const uint32_t *f, const uint32_t *g, unsigned n, float *gb,
    float *both)
{
	uint32_t tg = 0, tb = 0, x;
	float sg = 0, sb = 0;
	unsigned ug = 0, ub = 0, i;

	for (i = 0; i < n; i++) {
		if ((x = f[i] + g[i]) == 0)
			continue;
		tb += x;
		sb += (float)x * flog2(x);
		ub++;
		if (g[i] > 0) {
			tg += g[i];
			sg += (float)g[i] * flog2(g[i]);
			ug++;
		}
	}
	*gb += code_bits(tg, sg, ug);
	*both += code_bits(tb, sb, ub);
}

/* Symbol i's count from the frequencies fll, fd to tll, td. */
static inline void
move_sym(const struct bk_deflate *d, unsigned i, uint32_t *fll, uint32_t *fd,
    uint32_t *tll, uint32_t *td)
{
	unsigned s = d->sl[i];

	if (d->sd[i] == 0) {
		fll[s]--;
		tll[s]++;
	} else {
		s = 257 + lcode(s - MINMATCH);
		fll[s]--;
		tll[s]++;
		s = dcode(d->sd[i] - 1u);
		fd[s]--;
		td[s]++;
	}
}

/* Where the block should end, now that the chunk (its last csyms symbols,
 * from k on) is to start a new one: the number of the chunk's symbols, a
 * multiple of CUT, that are better off in the block before, as the chunk
 * holds the change of statistics somewhere. */
static unsigned
best_cut(const struct bk_deflate *d, unsigned k)
{
	uint32_t all[NLL], ad[ND], bll[NLL], bd[ND];
	unsigned t, j, cut = 0;
	float bits, least = 0;

	memcpy(all, d->fll, sizeof(all));
	memcpy(ad, d->fd, sizeof(ad));
	memcpy(bll, d->cll, sizeof(bll));
	memcpy(bd, d->cd, sizeof(bd));
	for (t = 0; t < d->csyms; t += CUT) {
		if (t > 0)
			for (j = t - CUT; j < t; j++)
				move_sym(d, k + j, bll, bd, all, ad);
		bits = est_bits(all, NLL) + est_bits(ad, ND) +
		    est_bits(bll, NLL) + est_bits(bd, ND);
		if (t == 0 || bits < least) {
			least = bits;
			cut = t;
		}
	}
	return cut;
}

/*
 * At the end of a chunk of symbols, which ends at byte upto (or at the end
 * of the input, when last): the block so far ends before the chunk (or
 * inside it) if two blocks take fewer bits than one, the chunk joins the
 * block, and the block ends if it is full or last.  *bstart is where the
 * block's bytes start, *cstart the chunk's.
 */
static void
end_chunk(struct bk_deflate *d, const unsigned char *in, int32_t *bstart,
    int32_t *cstart, int32_t upto, int last)
{
	unsigned k = d->nsyms - d->csyms, i, t;
	float chunk = 0, both = 0;

	if (d->csyms > 0) {
		est_pair(d->fll, d->cll, NLL, &chunk, &both);
		est_pair(d->fd, d->cd, ND, &chunk, &both);
	}
	if (k == 0 || d->csyms == 0) {
		d->bbits += chunk;
	} else if (d->bbits + chunk + BLOCKBITS >= both) {
		d->bbits = both;
	} else {
		/* The first t of the chunk's symbols, and their bytes, go
		 * with the block. */
		t = best_cut(d, k);
		for (i = k; i < k + t; i++) {
			move_sym(d, i, d->cll, d->cd, d->fll, d->fd);
			*cstart += d->sd[i] == 0 ? 1 : d->sl[i];
		}
		k += t;
		d->csyms -= t;
		d->nsyms = k;
		flush_block(d, in + *bstart, (size_t)(*cstart - *bstart));
		memmove(d->sl, d->sl + k, d->csyms * sizeof(d->sl[0]));
		memmove(d->sd, d->sd + k, d->csyms * sizeof(d->sd[0]));
		d->nsyms = d->csyms;
		d->bbits = est_bits(d->cll, NLL) + est_bits(d->cd, ND);
		*bstart = *cstart;
	}
	for (i = 0; i < NLL; i++)
		d->fll[i] += d->cll[i];
	for (i = 0; i < ND; i++)
		d->fd[i] += d->cd[i];
	memset(d->cll, 0, sizeof(d->cll));
	memset(d->cd, 0, sizeof(d->cd));
	d->csyms = 0;
	*cstart = upto;
	if (d->nsyms > 0 && (last || d->nsyms + CHUNK > NSYMS)) {
		flush_block(d, in + *bstart, (size_t)(upto - *bstart));
		d->bbits = 0;
		*bstart = upto;
	}
}

/* The first estimate of the costs, before a block has been coded: the
 * literals' from the frequencies of the first bytes, the fixed codes'
 * for the rest. */
static void
guess_costs(struct bk_deflate *d, const unsigned char *p, size_t n)
{
	uint32_t f[256] = {0};
	uint8_t len[256];
	size_t i;

	if (n > GUESS)
		n = GUESS;
	for (i = 0; i < n; i++)
		f[p[i]]++;
	lengths(f, 256, 15, len);
	for (i = 0; i < 256; i++)
		d->lcost[i] = len[i] > 0 ? len[i] + 1 : UNSEEN;
	memcpy(d->lcost + 256, d->fixl + 256, NLL - 256);
	memcpy(d->dcost, d->fixd, ND);
}

struct bk_deflate *
bk_deflate_new(int level)
{
	struct bk_deflate *d;
	unsigned i;

	if (level < BK_DEFLATE_MIN || level > BK_DEFLATE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->e = efforts[level - BK_DEFLATE_MIN];
	for (i = 0; i < 288; i++)
		d->fixl[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
	memset(d->fixd, 5, sizeof(d->fixd));
	codes(d->fixl, 288, d->fixlc);
	codes(d->fixd, 32, d->fixdc);
	return d;
}

void
bk_deflate_free(struct bk_deflate *d)
{
	free(d);
}

size_t
bk_deflate_bound(size_t len)
{
	/* Every block but the last holds at least CUT symbols (a block
	 * starts at a chunk or at a cut in one, a multiple of CUT symbols
	 * before the chunk's end), so as many bytes; each costs at most a
	 * stored block's 5 bytes per 65535 and 5 for its start; 8 more for
	 * the padding at the end. */
	return len + 5 * (len / 65535 + len / CUT + 2) + 8;
}

size_t
bk_deflate_block(struct bk_deflate *d, const unsigned char *in,
    size_t dictlen, size_t len, unsigned char *out)
{
	const int32_t end = (int32_t)(dictlen + len);
	int32_t p, start, bstart, cstart, last4 = end - 4, c, c3, q, qmax;
	int32_t stop;
	unsigned plen = 0, pdist = 0, clen, cdist = 0, max, need, beat;
	int pending = 0;

	d->out = out;
	d->o = 0;
	d->acc = 0;
	d->nacc = 0;
	d->nsyms = 0;
	d->csyms = 0;
	d->bbits = 0;
	memset(d->fll, 0, sizeof(d->fll));
	memset(d->fd, 0, sizeof(d->fd));
	memset(d->cll, 0, sizeof(d->cll));
	memset(d->cd, 0, sizeof(d->cd));
	if (len == 0)
		return 0;
	memset(d->head, 0xff, sizeof(d->head));
	memset(d->head3, 0xff, sizeof(d->head3));
	start = (int32_t)dictlen;
	for (p = 0; p < start && p <= last4; p++)
		enter(d, in, p);

	guess_costs(d, in + start, len);
	bstart = cstart = start;
	for (p = start; p < end;) {
		clen = 0;
		if (p <= last4) {
			c = d->head[hash4(in + p)];
			c3 = d->head3[hash3(in + p)];
			enter(d, in, p);
			max = (unsigned)(end - p) < MAXMATCH ?
			    (unsigned)(end - p) : MAXMATCH;
			if (!pending || plen < d->e.lazy) {
				/* A match at p longer than the one at p - 1
				 * (which may reach past the end from p), and
				 * worth its bits. */
				beat = pending && plen > 3 ? plen : 3;
				clen = longest(d, in, p, c, beat, max,
				    pending && plen >= d->e.good ?
				    d->e.chain / 4 : d->e.chain, &cdist);
				if (clen <= beat ||
				    !worth(d, in + p, clen, cdist))
					clen = 0;
				if (clen == 0 && (!pending || plen < 3) &&
				    c3 >= 0 && p - c3 <= FAR3 &&
				    in[c3] == in[p] && in[c3 + 1] == in[p + 1] &&
				    in[c3 + 2] == in[p + 2] &&
				    worth(d, in + p, 3, (unsigned)(p - c3))) {
					clen = 3;
					cdist = (unsigned)(p - c3);
				}
			}
		}
		if (pending && plen >= MINMATCH && clen <= plen) {
			/* The match at p - 1 stands. */
			sym_match(d, plen, pdist);
			/* Every position inside it goes into the chains,
			 * except in the middle of a run of one byte value
			 * (four bytes the same as the four before): in
			 * padded table rows that is most of the input, and
			 * it would only lengthen the chains.  The last one
			 * goes in all the same, so that a run that goes on
			 * is found at distance 1. */
			stop = p - 1 + (int32_t)plen;
			qmax = stop - 2 < last4 ? stop - 2 : last4;
			for (q = p + 1; q <= qmax; q++) {
				if (load32(in + q) != load32(in + q - 1))
					enter(d, in, q);
				else	/* on to the run's last four bytes */
					q += (int32_t)common(in + q + 4,
					    in + q + 3, (unsigned)(qmax - q));
			}
			if (q == stop - 1 && q <= last4)
				enter(d, in, q);
			p = stop;
			pending = 0;
			plen = 0;
		} else {
			if (pending)
				sym_lit(d, in[p - 1]);
			pending = 1;
			plen = clen;
			pdist = cdist;
			p++;
		}
		if (d->csyms >= CHUNK)
			end_chunk(d, in, &bstart, &cstart, pending ? p - 1 : p,
			    0);
	}
	if (pending)
		sym_lit(d, in[p - 1]);
	end_chunk(d, in, &bstart, &cstart, end, 1);

	/* To a byte boundary: empty fixed blocks are 10 bits each, an empty
	 * stored block gets there from anywhere. */
	need = (8 - d->nacc % 8) % 8;
	if (need & 1) {
		put_stored(d, in, 0);
	} else {
		for (; need > 0; need -= 2)
			put(d, 2, 10);
		put_align(d);
	}
	return d->o;
}
