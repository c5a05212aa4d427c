/*
 * hexfile.h - hex text to bytes: the format of the project's vectors and the
 * hex dumps people paste in forums.
 *
 * Accepted: '#' comment lines; hex digits in pairs, with or without spaces,
 * commas or colons between bytes; "0x" prefixes; an offset column ending in
 * ':' ("0010: 7e a0 ..."); hexdump -C's trailing "|ascii|" column.
 * Each non-empty data line is one unit (a frame, or one read() of a raw
 * capture); its bytes are appended to out and its extent recorded.
 */
#ifndef HM_COMMON_HEXFILE_H
#define HM_COMMON_HEXFILE_H

#include <stddef.h>
#include <stdint.h>

struct hm_hexline {
	size_t off;      /* where this line's bytes start in out */
	size_t len;      /* bytes on this line */
	unsigned lineno; /* 1-based line number in the text */
};

/*
 * Parses text[0..n).  Returns 0, or -1 with err set ("line 3: odd number of
 * hex digits", "too much data").  *n_lines may exceed max_lines (lines past
 * max_lines are parsed but not recorded); *out_len is the total byte count.
 */
int hm_hex_parse(const char *text, size_t n, uint8_t *out, size_t cap, size_t *out_len, struct hm_hexline *lines,
                 size_t max_lines, size_t *n_lines, char *err, size_t errlen);

#endif
