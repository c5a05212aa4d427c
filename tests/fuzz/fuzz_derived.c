/*
 * fuzz_derived.c - libFuzzer entry: the derived figures' state text
 * (hm_derived_load) and samples fed on top of what it loaded.
 *
 * Input: up to the first NUL byte, the body of a state file; the entry
 * appends the "crc XXXX" trailer itself (with the reference CRC of fuzz.h),
 * so that the fuzzer reaches the parser behind the checksum.  After the NUL,
 * samples of 4 bytes each: hours to step (int8, so also backwards), import
 * Wh added (uint16 BE; 0xFFFF: the register drops to 0, a meter swap), and
 * a flag byte (bit 0: send the same stamp again; bit 1: minute 30).
 *
 * Invariants, beyond "no crash, no undefined behaviour":
 *  - a body that loads is canonical: saving it again gives the same bytes;
 *  - one that is refused leaves the state untouched;
 *  - the checksum guards: the same text with a wrong trailer never loads;
 *  - after every sample: no figure negative, today <= this month, hours
 *    within a day's 25 and a month's 745, the JSON valid, and the state
 *    saves and loads back to the same text.
 *
 * needs: src/core/derived.c src/core/crc.c src/core/reading.c
 */
#include <errno.h>

#include "hanmeter/derived.h"

#include "fuzz.h"

static char text[HM_DERIVED_TEXT_MAX + 16], again[HM_DERIVED_TEXT_MAX], json[HM_DERIVED_JSON_MAX];
static struct hm_derived d, keep, back;

static void check_state(const struct hm_derived *s)
{
	FUZZ_CHECK(s->today.import_mwh >= 0 && s->today.export_mwh >= 0);
	FUZZ_CHECK(s->month.import_mwh >= s->today.import_mwh && s->month.export_mwh >= s->today.export_mwh);
	FUZZ_CHECK(s->yesterday.import_mwh >= 0 && s->last_month.import_mwh >= 0 && s->last.import_mwh >= 0);
	FUZZ_CHECK(s->hours_today <= 25 && s->hours_yesterday <= 25);
	FUZZ_CHECK(s->hours_month <= 745 && s->hours_today <= s->hours_month);
	FUZZ_CHECK(hm_derived_step(s) <= s->n_steps + 1);
	int n = hm_derived_json(s, json, sizeof json);
	FUZZ_CHECK(n >= 0 && fuzz_json_members_valid(json, (size_t)n));
	n = hm_derived_save(s, again, sizeof again);
	FUZZ_CHECK(n > 0);
	hm_derived_init(&back);
	FUZZ_CHECK(hm_derived_load(&back, again, (size_t)n) == 0);
	int m = hm_derived_save(&back, text, sizeof text);
	FUZZ_CHECK(m == n && memcmp(text, again, (size_t)n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t body = nul ? (size_t)(nul - data) : size;
	hm_derived_init(&d);
	if (body <= HM_DERIVED_TEXT_MAX) {
		memcpy(text, data, body);
		snprintf(text + body, sizeof text - body, "crc %04X\n", fuzz_crc_x25(data, body));
		size_t len = body + 9;
		memcpy(&keep, &d, sizeof d);
		int rc = hm_derived_load(&d, text, len);
		FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOTSUP);
		if (rc == 0) {
			int n = hm_derived_save(&d, again, sizeof again);
			FUZZ_CHECK(n == (int)len && memcmp(again, text, len) == 0);
			text[len - 2] ^= 1; /* the last hex digit of the trailer */
			hm_derived_init(&back);
			FUZZ_CHECK(hm_derived_load(&back, text, len) == -EINVAL);
		} else {
			FUZZ_CHECK(memcmp(&d, &keep, sizeof d) == 0);
		}
	}
	check_state(&d);
	if (!nul)
		return 0;

	/* Samples from 2026-11-01T00:00 local, walking by the input's steps. */
	int64_t hour = 0, reg_wh = 1000000;
	for (const uint8_t *p = nul + 1; p + 4 <= data + size; p += 4) {
		int step = (int8_t)p[0];
		unsigned add = (unsigned)p[1] << 8 | p[2];
		if (!(p[3] & 1))
			hour += step;
		if (hour < 0)
			hour = 0;
		reg_wh = add == 0xFFFF ? 0 : reg_wh + add;
		/* hours -> a wall-clock stamp, 24-hour days (the meter's own idea) */
		int64_t day = hour / 24, h = hour % 24;
		int y = 2026, mo = 11, dd = 1;
		for (int64_t i = 0; i < day && y < 2100; i++) {
			static const int ml[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
			int len = ml[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
			if (++dd > len) {
				dd = 1;
				if (++mo > 12) {
					mo = 1;
					y++;
				}
			}
		}
		char t[64]; /* gcc -O2 -Wformat-truncation sizes every %d at 11 characters */
		snprintf(t, sizeof t, "%04d-%02d-%02dT%02d:%02d:07", y, mo, dd, (int)h, p[3] & 2 ? 30 : 0);
		struct hm_num imp = {reg_wh, -3}, exp = {0, 0};
		enum hm_derived_event ev = hm_derived_feed(&d, t, imp, &exp, NULL);
		FUZZ_CHECK((unsigned)ev < HM_DERIVED_EVENT_COUNT);
		check_state(&d);
	}
	return 0;
}
