/*
 * test_opt.c - hm_opt_parse_uint() and hm_opt_parse_real(), the option
 * number parsers of hanmeter and hanmeter-sim: the whole argument is the
 * number or it is refused (-EINVAL), a value past the limit is -ERANGE,
 * and nothing is stored from a refused argument; hm_opt_parse_hostport()
 * for the simulators' --tcp [HOST:]PORT.  Expected values are the decimal
 * literals themselves; 2^64 and 1e999 lie past uint64_t and double.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/opt.h"

#define UNTOUCHED 0x5A5A5A5Au /* what *v holds before a call that must fail */

static void uint_accepts(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t max, want;
	} ok[] = {
	    {"0", 0, 0},
	    {"42", 100, 42},
	    {"65535", 65535, 65535}, /* max itself is allowed */
	    {"007", 10, 7},          /* leading zeros: still decimal, not octal */
	    {"18446744073709551615", UINT64_MAX, UINT64_MAX},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint64_t v = UNTOUCHED;
		assert_int_equal(hm_opt_parse_uint(ok[i].s, ok[i].max, &v), 0);
		assert_true(v == ok[i].want);
	}
}

static void uint_refuses(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t max;
		int want;
	} bad[] = {
	    {"", 10, -EINVAL},         {"-1", 10, -EINVAL}, /* strtoull would wrap it to 2^64 - 1 */
	    {"-0", 10, -EINVAL},       {"12x", 100, -EINVAL},  {"1.5", 10, -EINVAL},
	    {"x", 10, -EINVAL},        {"0x10", 100, -EINVAL}, /* decimal only */
	    {"65536", 65535, -ERANGE}, {"1", 0, -ERANGE},      {"18446744073709551616", UINT64_MAX, -ERANGE}, /* 2^64 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t v = UNTOUCHED;
		assert_int_equal(hm_opt_parse_uint(bad[i].s, bad[i].max, &v), bad[i].want);
		assert_true(v == UNTOUCHED);
	}
}

static void real_accepts(void **state)
{
	(void)state;
	double v = 0;
	assert_int_equal(hm_opt_parse_real("2.5", &v), 0);
	assert_true(v == 2.5);
	assert_int_equal(hm_opt_parse_real("0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(hm_opt_parse_real("1e9", &v), 0);
	assert_true(v == 1e9);
	assert_int_equal(hm_opt_parse_real("-0.25", &v), 0); /* the sign is the caller's to refuse */
	assert_true(v == -0.25);
	assert_int_equal(hm_opt_parse_real("nan", &v), 0); /* so is NaN (ranges written !(x > 0) catch it) */
	assert_true(isnan(v));
}

static void real_refuses(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int want;
	} bad[] = {
	    {"", -EINVAL}, {"x", -EINVAL}, {"1.5s", -EINVAL}, {"2,5", -EINVAL}, {"1e999", -ERANGE}, /* past DBL_MAX */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		double v = 7;
		assert_int_equal(hm_opt_parse_real(bad[i].s, &v), bad[i].want);
		assert_true(v == 7);
	}
}

static void hostport(void **state)
{
	(void)state;
	char host[8] = "keep";
	unsigned port = 1;

	assert_int_equal(hm_opt_parse_hostport("8080", host, sizeof host, &port), 0);
	assert_int_equal(port, 8080);
	assert_string_equal(host, "keep"); /* no HOST: the default stays */

	assert_int_equal(hm_opt_parse_hostport("1234567:0", host, sizeof host, &port), 0);
	assert_int_equal(port, 0);
	assert_string_equal(host, "1234567"); /* 7 bytes + NUL: exactly fits */

	assert_int_equal(hm_opt_parse_hostport("::1:65535", host, sizeof host, &port), 0);
	assert_int_equal(port, 65535);
	assert_string_equal(host, "::1"); /* the last colon ends HOST */

	static const char *const bad[] = {"", ":80", "12345678:80", "h:", "h:65536", "h:-1", "h:8x", "65536"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		strcpy(host, "keep");
		port = 1;
		assert_int_equal(hm_opt_parse_hostport(bad[i], host, sizeof host, &port), -EINVAL);
		assert_string_equal(host, "keep");
		assert_int_equal(port, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(uint_accepts), cmocka_unit_test(uint_refuses), cmocka_unit_test(real_accepts),
	    cmocka_unit_test(real_refuses), cmocka_unit_test(hostport),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
