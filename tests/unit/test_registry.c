/*
 * test_registry.c - the source and sink tables: every entry named, names
 * unique, every required callback set; each sink's name is a configuration
 * section; each source claims exactly the meters configured for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "daemon.h"

static void sources(void **state)
{
	(void)state;
	size_t n = 0;
	for (; hm_sources[n]; n++) {
		const struct hm_source_ops *s = hm_sources[n];
		assert_non_null(s->name);
		assert_true(strlen(s->name) > 0);
		assert_non_null(s->claims);
		assert_non_null(s->open);
		assert_non_null(s->close);
		for (size_t j = 0; j < n; j++)
			assert_string_not_equal(s->name, hm_sources[j]->name);
	}
	assert_true(n >= 3);

	/* One meter per source key: exactly one source claims it, the right one. */
	static const struct {
		const char *source; /* expected claimant */
		size_t off;         /* the key that is set */
	} cases[] = {
	    {"serial", offsetof(struct hm_meter_conf, device)},
	    {"tcp", offsetof(struct hm_meter_conf, tcp_host)},
	    {"file", offsetof(struct hm_meter_conf, file)},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct hm_meter_conf mc;
		memset(&mc, 0, sizeof mc);
		strcpy((char *)&mc + cases[c].off, "/x");
		unsigned claims = 0;
		for (size_t i = 0; hm_sources[i]; i++)
			if (hm_sources[i]->claims(&mc)) {
				claims++;
				assert_string_equal(hm_sources[i]->name, cases[c].source);
			}
		assert_int_equal(claims, 1);
	}
	struct hm_meter_conf none;
	memset(&none, 0, sizeof none);
	for (size_t i = 0; hm_sources[i]; i++)
		assert_false(hm_sources[i]->claims(&none));
}

static void sinks(void **state)
{
	(void)state;
	size_t n = 0;
	for (; hm_sinks[n]; n++) {
		const struct hm_sink_ops *s = hm_sinks[n];
		assert_non_null(s->name);
		assert_non_null(s->enabled);
		assert_non_null(s->start);
		assert_non_null(s->reading);
		assert_non_null(s->stop);
		for (size_t j = 0; j < n; j++)
			assert_string_not_equal(s->name, hm_sinks[j]->name);
		/* The name is a section of the key table. */
		const char *sec, *name, *def;
		bool found = false;
		for (unsigned k = 0; hm_config_key(k, &sec, &name, &def) == 0; k++)
			found |= strcmp(sec, s->name) == 0;
		if (!found)
			fail_msg("sink %s: no [%s] section in the configuration", s->name, s->name);
		/* Disabled in a configuration without sections. */
		struct hm_config c;
		hm_config_defaults(&c);
		assert_false(s->enabled(&c));
	}
	assert_true(n >= 2);
	assert_true(n <= sizeof((struct hm_daemon *)0)->sink / sizeof((struct hm_daemon *)0)->sink[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sources),
	    cmocka_unit_test(sinks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
