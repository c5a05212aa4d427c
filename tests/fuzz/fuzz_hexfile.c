/*
 * fuzz_hexfile.c - libFuzzer entry: hex text (vector files, dumps pasted
 * from forums, hexdump -C output) through hm_hex_parse(), the reader of the
 * tool and the tests.
 *
 * Input: byte 0 picks a small output capacity (0..255), byte 1 a line table
 * size (0..7); the rest is the text.
 *
 * Invariants checked, beyond "no crash" (buffers are heap blocks of exactly
 * the size passed, so ASan sees any write past them):
 *  - success: the line table describes the output exactly (contiguous,
 *    increasing line numbers within the text), and writing each line back
 *    as plain hex parses to the same bytes and lines;
 *  - failure: a NUL-terminated "line N: ..." message;
 *  - capacity: with room for everything the result is the same as with a
 *    large buffer; with less, it fails rather than truncating.
 *
 * needs: src/common/hexfile.c
 */
#include "common/hexfile.h"

#include "fuzz.h"

#define BIG       65536
#define LINES_BIG 4096

static uint8_t big[BIG], again[BIG];
static struct hm_hexline lines_big[LINES_BIG], lines_again[LINES_BIG];
static char text2[3 * BIG + LINES_BIG];

static void check_err(const char *err, size_t errlen)
{
	FUZZ_CHECK(memchr(err, 0, errlen) != NULL);
	FUZZ_CHECK(strncmp(err, "line ", 5) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size - 2 > BIG)
		return 0;
	size_t small_cap = data[0], small_lines = data[1] % 8;
	const char *text = (const char *)data + 2;
	size_t n = size - 2;
	unsigned text_lines = 1;
	for (size_t i = 0; i < n; i++)
		text_lines += text[i] == '\n';

	char err[128];
	size_t len = 0, nl = 0;
	int rc = hm_hex_parse(text, n, big, sizeof big, &len, lines_big, LINES_BIG, &nl, err, sizeof err);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		check_err(err, sizeof err);
	} else {
		FUZZ_CHECK(len <= sizeof big && len <= n / 2);
		size_t off = 0;
		for (size_t i = 0; i < nl && i < LINES_BIG; i++) {
			FUZZ_CHECK(lines_big[i].off == off && lines_big[i].len > 0);
			FUZZ_CHECK(lines_big[i].lineno >= 1 && lines_big[i].lineno <= text_lines);
			if (i)
				FUZZ_CHECK(lines_big[i].lineno > lines_big[i - 1].lineno);
			off += lines_big[i].len;
		}
		if (nl <= LINES_BIG) {
			FUZZ_CHECK(off == len);
			/* Plain hex, one line per recorded line: the same bytes back. */
			static const char hex[] = "0123456789abcdef";
			size_t t = 0;
			for (size_t i = 0; i < nl; i++) {
				for (size_t k = 0; k < lines_big[i].len; k++) {
					uint8_t b = big[lines_big[i].off + k];
					text2[t++] = hex[b >> 4];
					text2[t++] = hex[b & 15];
				}
				text2[t++] = '\n';
			}
			size_t len2 = 0, nl2 = 0;
			FUZZ_CHECK(hm_hex_parse(text2, t, again, sizeof again, &len2, lines_again, LINES_BIG, &nl2, err,
			                        sizeof err) == 0);
			FUZZ_CHECK(len2 == len && nl2 == nl && memcmp(again, big, len) == 0);
			for (size_t i = 0; i < nl; i++)
				FUZZ_CHECK(lines_again[i].off == lines_big[i].off &&
				           lines_again[i].len == lines_big[i].len);
		}
	}

	/* Small, exact-size buffers. */
	uint8_t *out = malloc(small_cap ? small_cap : 1);
	struct hm_hexline *lt = malloc((small_lines ? small_lines : 1) * sizeof *lt);
	char *e = malloc(16);
	FUZZ_CHECK(out && lt && e);
	size_t len3 = 0, nl3 = 0;
	int rc3 = hm_hex_parse(text, n, out, small_cap, &len3, lt, small_lines, &nl3, e, 16);
	if (rc == 0 && len <= small_cap) {
		FUZZ_CHECK(rc3 == 0 && len3 == len && nl3 == nl && memcmp(out, big, len) == 0);
		for (size_t i = 0; i < nl3 && i < small_lines; i++)
			FUZZ_CHECK(lt[i].off == lines_big[i].off && lt[i].len == lines_big[i].len);
	} else {
		FUZZ_CHECK(rc3 == -1);
		FUZZ_CHECK(memchr(e, 0, 16) != NULL);
	}
	free(out);
	free(lt);
	free(e);
	return 0;
}
