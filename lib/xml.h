/*
 * xml.h - the small XML reader S3's responses need, on expat.
 *
 * S3 answers in flat documents (<ListBucketResult><Contents><Key>...),
 * so the reader hands each element's path and text to a callback when the
 * element ends; the caller picks the paths it knows and ignores the rest.
 * Document type declarations (and so entity definitions) are refused:
 * S3 never sends them, and they are how XML parsers get attacked.
 */
#ifndef BK_XML_H
#define BK_XML_H

#include <stddef.h>

#include "err.h"

#define BK_XML_DEPTH	16		/* deeper is refused */
#define BK_XML_PATHMAX	512		/* "A/B/C" */
#define BK_XML_TEXTMAX	(64 * 1024)	/* text of one element */

/*
 * Called when an element ends: path is the '/'-joined names from the
 * root ("ListBucketResult/Contents/Key"), text its character data
 * (entities decoded, NUL-terminated; the text of children is not
 * included).  Return 0 to go on, or -1 (with err filled) to stop.
 */
typedef int	(*bk_xml_fn)(void *arg, const char *path, const char *text,
	    size_t len, struct bk_err *err);

/*
 * Parse the document doc (len bytes) and call fn for every element.
 * Returns 0, or -1 with err filled (BK_EXIT_RUNTIME: "malformed XML at
 * line N: why", or what fn said).
 */
int	bk_xml_parse(const char *doc, size_t len, bk_xml_fn fn, void *arg,
	    struct bk_err *err);

#endif
