/*
 * test_error.c - every error has a distinct, stable, non-empty name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/error.h"

static void names_are_distinct(void **state)
{
	(void)state;
	for (int i = 0; i < HM_ERR_COUNT; i++) {
		assert_non_null(hm_err_name(i));
		assert_true(strlen(hm_err_name(i)) > 0);
		assert_string_not_equal(hm_err_text(i), "unknown error");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(hm_err_name(i), hm_err_name(j));
	}
	assert_string_equal(hm_err_name(HM_ERR_FCS_MISMATCH), "fcs_mismatch");
	assert_string_equal(hm_err_name(HM_ERR_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(names_are_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
