/*
 * fuzz_reading.c - libFuzzer entry: the canonical reading and its JSON
 * rendering, built from arbitrary values rather than from a meter frame, so
 * that values no profile would produce today (huge scalers, hostile text,
 * full extras) are rendered too.
 *
 * Input: a list of operations, each an op byte and its operands:
 *   0  set a numeric field:  field, mantissa (8 bytes BE), exponent (int8)
 *   1  set a text field:     field, length, bytes
 *   2  add an extra:         6 OBIS bytes, flags, mantissa (8), exponent, unit, length, bytes
 *   3  hm_json_string:       length, bytes
 *   4  hm_num_format:        mantissa (8), exponent (2 bytes BE, the full int16 range)
 * then the reading is checked as every decoded reading is (fuzz_decode.h).
 *
 * Expected values come from reasoning, not from the code under test:
 *  - hm_num_format: m * 10^e written out by a reference below, exactly, and
 *    -1 when the buffer is one byte too small;
 *  - hm_json_string: a valid JSON string whose decoded code points equal the
 *    input's when the input is valid UTF-8 (each other byte may become one
 *    code point, never more);
 *  - hm_reading_set_text: NUL-terminated, printable, equal to the input when
 *    that is short printable ASCII.
 *
 * needs: src/core/reading.c src/core/json.c
 */
#include "hanmeter/json.h"
#include "hanmeter/reading.h"

#include "fuzz_decode.h"

struct in {
	const uint8_t *p;
	size_t n;
};

static bool take(struct in *in, void *out, size_t n)
{
	if (in->n < n)
		return false;
	memcpy(out, in->p, n);
	in->p += n, in->n -= n;
	return true;
}

static bool take_u64(struct in *in, uint64_t *v)
{
	uint8_t b[8];
	if (!take(in, b, 8))
		return false;
	*v = 0;
	for (int i = 0; i < 8; i++)
		*v = *v << 8 | b[i];
	return true;
}

/* m * 10^e as a plain decimal, trailing fraction zeros dropped. */
#define REF_MAX 40000
static char ref[REF_MAX], got[REF_MAX];

static size_t ref_format(int64_t m, int e, char *out)
{
	char digits[24];
	uint64_t u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
	int nd = 0;
	do {
		digits[nd++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t o = 0;
	if (m == 0) {
		out[o++] = '0';
		out[o] = 0;
		return o;
	}
	if (m < 0)
		out[o++] = '-';
	if (e >= 0) {
		for (int i = nd - 1; i >= 0; i--)
			out[o++] = digits[i];
		for (int i = 0; i < e; i++)
			out[o++] = '0';
	} else {
		int frac = -e; /* digits after the point */
		int ipart = nd - frac;
		if (ipart <= 0) {
			out[o++] = '0';
		} else {
			for (int i = nd - 1; i >= frac; i--)
				out[o++] = digits[i];
		}
		out[o++] = '.';
		for (int i = 0; i < -ipart; i++)
			out[o++] = '0';
		for (int i = (ipart > 0 ? frac : nd) - 1; i >= 0; i--)
			out[o++] = digits[i];
		while (out[o - 1] == '0')
			o--;
		if (out[o - 1] == '.')
			o--;
	}
	out[o] = 0;
	return o;
}

static void check_num_format(int64_t m, int e)
{
	size_t n = ref_format(m, e, ref);
	struct hm_num v = {.m = m, .e = (int16_t)e};
	int rc = hm_num_format(v, got, n + 1);
	if (n >= 4096 && rc < 0)
		return; /* refusing an absurd exponent is fine; a wrong digit is not */
	FUZZ_CHECK(rc == (int)n);
	FUZZ_CHECK(memcmp(got, ref, n + 1) == 0);
	char *tight = malloc(n ? n : 1);
	FUZZ_CHECK(tight);
	FUZZ_CHECK(hm_num_format(v, tight, n) == -1);
	free(tight);
}

static uint32_t cps[1024];

static void check_json_string(const uint8_t *s, size_t len)
{
	static char buf[8 * 256 + 16];
	int n = hm_json_string((const char *)s, len, buf, sizeof buf);
	FUZZ_CHECK(n >= 0); /* 6 bytes per input byte at most, plus quotes */
	FUZZ_CHECK((size_t)n < sizeof buf && buf[n] == 0);
	struct fuzz_json j = {.p = (const uint8_t *)buf, .end = (const uint8_t *)buf + n, .cps = cps, .cps_cap = 1024};
	FUZZ_CHECK(fuzz_json_string(&j) == 0 && j.p == j.end);
	FUZZ_CHECK(j.ncps <= len);
	/* Valid UTF-8 in: the same code points out. */
	size_t k = 0, i = 0;
	bool valid = true;
	while (i < len && valid) {
		uint32_t cp;
		size_t l = fuzz_utf8(s + i, len - i, &cp);
		if (!l) {
			valid = false;
			break;
		}
		FUZZ_CHECK(k < j.ncps && cps[k] == cp);
		k++, i += l;
	}
	if (valid)
		FUZZ_CHECK(k == j.ncps);
	/* The cap is honoured: exactly n + 1 works, n does not. */
	char *tight = malloc((size_t)n + 1);
	FUZZ_CHECK(tight);
	FUZZ_CHECK(hm_json_string((const char *)s, len, tight, (size_t)n + 1) == n);
	FUZZ_CHECK(memcmp(tight, buf, (size_t)n + 1) == 0);
	FUZZ_CHECK(hm_json_string((const char *)s, len, tight, (size_t)n) == -1);
	free(tight);
}

static void check_set_text(struct hm_reading *r, enum hm_text_field f, const uint8_t *s, size_t len)
{
	if (hm_text_time(f) >= 0) { /* a clock is no text: set_text leaves it alone */
		bool had = hm_reading_has_text(r, f);
		hm_reading_set_text(r, f, (const char *)s, len);
		FUZZ_CHECK(hm_reading_has_text(r, f) == had);
		return;
	}
	hm_reading_set_text(r, f, (const char *)s, len);
	FUZZ_CHECK(hm_reading_has_text(r, f));
	const char *t = r->text[f];
	FUZZ_CHECK(memchr(t, 0, HM_TEXT_MAX) != NULL);
	bool plain = len < HM_TEXT_MAX;
	for (size_t i = 0; i < len; i++)
		plain &= s[i] >= 0x20 && s[i] < 0x7F && s[i] != '\\';
	if (plain)
		FUZZ_CHECK(strlen(t) == len && memcmp(t, s, len) == 0);
}

static struct hm_reading reading;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	uint8_t op, b[8];
	uint64_t m;
	uint8_t buf[256];

	hm_reading_clear(&reading);
	reading.profile = "fuzz";
	while (take(&in, &op, 1)) {
		switch (op % 5) {
		case 0: /* numeric field */
			if (!take(&in, b, 1) || !take_u64(&in, &m) || !take(&in, b + 1, 1))
				goto done;
			hm_reading_set_num(&reading, (enum hm_num_field)(b[0] % HM_NUM_COUNT), (int64_t)m,
			                   (int8_t)b[1]);
			FUZZ_CHECK(hm_reading_has_num(&reading, (enum hm_num_field)(b[0] % HM_NUM_COUNT)));
			check_num_format((int64_t)m, (int8_t)b[1]);
			break;
		case 1: /* text field */
			if (!take(&in, b, 2) || !take(&in, buf, b[1]))
				goto done;
			check_set_text(&reading, (enum hm_text_field)(b[0] % HM_TEXT_COUNT), buf, b[1]);
			break;
		case 2: { /* extra */
			struct hm_extra x = {0};
			uint8_t tl;
			if (!take(&in, x.obis, 6) || !take(&in, b, 1) || !take_u64(&in, &m) || !take(&in, b + 1, 2) ||
			    !take(&in, &tl, 1) || !take(&in, buf, tl % HM_TEXT_MAX))
				goto done;
			x.is_text = b[0] & 1;
			x.num = (struct hm_num){.m = (int64_t)m, .e = (int8_t)b[1]};
			x.unit = b[2];
			memcpy(x.text, buf, tl % HM_TEXT_MAX); /* raw bytes: JSON must escape them */
			/* One extra per OBIS code: a list naming a code twice is the
			 * decoder's to resolve (the decode entries check that the JSON
			 * never carries a member twice); here it would only mask
			 * everything else this entry can find. */
			bool dup = false;
			for (unsigned i = 0; i < reading.n_extra; i++)
				dup |= memcmp(reading.extra[i].obis, x.obis, 6) == 0;
			if (dup)
				break;
			unsigned before = reading.n_extra;
			unsigned dropped = reading.extra_dropped;
			if (hm_reading_add_extra(&reading, &x))
				FUZZ_CHECK(reading.n_extra == before + 1 && reading.extra_dropped == dropped);
			else /* full: counted, never silently lost */
				FUZZ_CHECK(before == HM_EXTRA_MAX && reading.n_extra == before &&
				           reading.extra_dropped == dropped + 1);
			break;
		}
		case 3: /* JSON string */
			if (!take(&in, b, 1) || !take(&in, buf, b[0]))
				goto done;
			check_json_string(buf, b[0]);
			break;
		case 4: /* number formatting, full exponent range */
			if (!take_u64(&in, &m) || !take(&in, b, 2))
				goto done;
			check_num_format((int64_t)m, (int16_t)(b[0] << 8 | b[1]));
			break;
		}
	}
done:
	fuzz_check_reading(&reading);
	return 0;
}
