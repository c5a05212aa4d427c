/*
 * msgvec.h - the DLMS messages of the vectors, for test_decode and test_dlms.
 *
 * For every MANIFEST.tsv row whose format is "hdlc-dlms" or "dlms-apdu (no
 * HDLC)" and whose kind is "positive", each data line is a message.  HDLC
 * lines give their information field, taken out here by walking the header
 * (not by the framer, which is tested on its own); segmented frames (format
 * bit 0x0800) are concatenated until the last segment.
 *
 * Header-only (static functions) so each test binary stays one file.
 */
#ifndef HM_TEST_MSGVEC_H
#define HM_TEST_MSGVEC_H

#include "hanmeter/limits.h"
#include "vectors.h"

#define MAX_MSGS     8
#define HDLC_SEGMENT 0x08 /* segmentation bit in the first format byte (0x0800) */

struct msg {
	uint8_t b[HM_MSG_MAX];
	size_t len;
	unsigned line; /* last data line (1-based) of the message */
};

struct vec {
	const char *file;
	const char *expected;
	struct msg msg[MAX_MSGS];
	int nmsg;
};

static struct vec vecs[64];
static int nvecs;

/* The information field of one HDLC frame (flags included): after the
 * format (2), the addresses (each ends at a byte with bit 0 set), control
 * (1) and HCS (2); before FCS (2) and the closing flag. */
static int hdlc_info(const uint8_t *f, size_t n, const uint8_t **info, size_t *ilen)
{
	size_t p = 3; /* flag + format */
	for (int addr = 0; addr < 2; addr++) {
		while (p < n && !(f[p] & 1))
			p++;
		p++;
	}
	p += 1 + 2; /* control, HCS */
	if (n < 3 || p > n - 3)
		return -1;
	*info = f + p;
	*ilen = n - 3 - p;
	return 0;
}

static int load_vectors(void)
{
	static uint8_t raw[1 << 16];
	static struct hm_hexline lines[64];
	if (nvecs)
		return nvecs;
	vec_manifest_load();
	for (int r = 0; r < vec_manifest_data.nrows && nvecs < 64; r++) {
		const char *file = vec_manifest_data.rows[r].col[0];
		const char *fmt = vec_manifest(file, "format");
		const char *kind = vec_manifest(file, "kind");
		int hdlc = strcmp(fmt, "hdlc-dlms") == 0;
		if ((!hdlc && strcmp(fmt, "dlms-apdu (no HDLC)") != 0) || strcmp(kind, "positive") != 0)
			continue;
		size_t len, nl;
		if (vec_hex(file, raw, sizeof raw, &len, lines, 64, &nl) < 0) {
			fprintf(stderr, "%s: cannot load\n", file);
			continue;
		}
		struct vec *v = &vecs[nvecs++];
		v->file = file;
		v->expected = vec_manifest(file, "expected_values");
		struct msg *m = NULL;
		for (size_t i = 0; i < nl && i < 64; i++) {
			const uint8_t *info = raw + lines[i].off;
			size_t ilen = lines[i].len;
			int more = 0;
			if (hdlc) {
				more = lines[i].len > 1 && (raw[lines[i].off + 1] & HDLC_SEGMENT);
				if (hdlc_info(raw + lines[i].off, lines[i].len, &info, &ilen) < 0)
					fail_msg("%s line %zu: no HDLC header", file, i + 1);
			}
			if (!m) {
				assert_true(v->nmsg < MAX_MSGS);
				m = &v->msg[v->nmsg++];
				m->len = 0;
			}
			assert_true(m->len + ilen <= sizeof m->b);
			memcpy(m->b + m->len, info, ilen);
			m->len += ilen;
			m->line = (unsigned)i + 1;
			if (!more)
				m = NULL;
		}
	}
	return nvecs;
}

/* The part of expected that applies to data line `line`: a "[line N]"
 * section if there is one, else everything. */
static void expected_for(const char *expected, unsigned line, char *out, size_t cap)
{
	char tag[32];
	snprintf(tag, sizeof tag, "[line %u] ", line);
	const char *s = strstr(expected, tag);
	if (!s) {
		snprintf(out, cap, "%s", expected);
		return;
	}
	s += strlen(tag);
	const char *e = strstr(s, "; [");
	snprintf(out, cap, "%.*s", (int)(e ? (size_t)(e - s) : strlen(s)), s);
}

#endif
