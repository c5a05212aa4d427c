/*
 * test_ha_discovery.c - Home Assistant MQTT discovery messages.
 *
 * What HA needs, from its MQTT discovery and sensor documentation and the
 * energy dashboard's rules, checked for every numeric field:
 *   - the config topic <prefix>/sensor/<node_id>/<object_id>/config with ids
 *     in [A-Za-z0-9_-];
 *   - valid JSON with name, unique_id, state_topic, value_template, device;
 *   - energy fields: device_class energy, state_class total_increasing,
 *     unit kWh (the energy dashboard accepts nothing else);
 *   - a value template that tolerates a message lacking the field;
 *   - availability on both the daemon status and the meter's own topic.
 * Expected strings below are written by hand from those rules.
 *
 * Derived figures (derived.h) are sensors of the same device reading the
 * derived topic; their classes follow HA's state class definitions: a total
 * restarting each day/month is total_increasing, a past period (last hour,
 * yesterday, last month) has no state class, the capacity mean is a power
 * measurement, the step a plain number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/reading.h"
#include "sink/ha_discovery.h"

static const struct hm_ha_topics topics = {
    .discovery_prefix = "homeassistant",
    .state = "hanmeter/house/state",
    .daemon_status = "hanmeter/status",
    .availability = "hanmeter/house/availability",
    .derived = "hanmeter/house/derived",
};

static const struct hm_ha_device dev = {
    .meter = "house",
    .ident = "5706567271589419", /* kamstrup-6841121-list2-no.hex meter_id */
    .manufacturer = "Kamstrup",
    .model = "6841121BN243101040",
    .sw_version = "Kamstrup_V0001",
};

/* The raw text of member name's value (first occurrence). */
static const char *member(const char *json, const char *name, char *out, size_t cap)
{
	char key[96];
	snprintf(key, sizeof key, "\"%s\":", name);
	const char *p = strstr(json, key);
	if (!p)
		return NULL;
	p += strlen(key);
	size_t n;
	if (*p == '"') {
		const char *q = p + 1;
		while (*q && *q != '"')
			q += *q == '\\' ? 2 : 1;
		n = (size_t)(q - p) + 1;
	} else if (*p == '[' || *p == '{') {
		int depth = 0;
		const char *q = p;
		do {
			depth += (*q == '[' || *q == '{') - (*q == ']' || *q == '}');
			q++;
		} while (*q && depth);
		n = (size_t)(q - p);
	} else {
		n = strcspn(p, ",}");
	}
	snprintf(out, cap, "%.*s", (int)n, p);
	return out;
}

/* Balanced braces/brackets outside strings, no raw control bytes, proper
 * escapes: enough to catch a formatting slip (the replay test parses the
 * same messages with python's json module). */
static int json_plausible(const char *s)
{
	int depth = 0, in_str = 0;
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20)
			return 0;
		if (in_str) {
			if (*s == '\\') {
				if (!s[1] || !strchr("\"\\/bfnrtu", s[1]))
					return 0;
				s++;
			} else if (*s == '"') {
				in_str = 0;
			}
		} else if (*s == '"') {
			in_str = 1;
		} else if (*s == '{' || *s == '[') {
			depth++;
		} else if (*s == '}' || *s == ']') {
			if (--depth < 0)
				return 0;
		}
	}
	return depth == 0 && !in_str;
}

static void every_field(void **st)
{
	(void)st;
	char topic[256], payload[2048], v[512], want[512];
	for (int f = 0; f < HM_NUM_COUNT; f++) {
		const struct hm_num_info *ni = &hm_num_info[f];
		int tl = hm_ha_config_topic(&topics, &dev, (enum hm_num_field)f, topic, sizeof topic);
		int pl = hm_ha_config_payload(&topics, &dev, (enum hm_num_field)f, payload, sizeof payload);
		assert_int_equal(tl, (int)strlen(topic));
		assert_int_equal(pl, (int)strlen(payload));
		snprintf(want, sizeof want, "homeassistant/sensor/hanmeter_5706567271589419/%s/config", ni->name);
		assert_string_equal(topic, want);
		if (!json_plausible(payload))
			fail_msg("bad JSON for %s: %s", ni->name, payload);
		assert_int_equal(payload[0], '{');
		snprintf(want, sizeof want, "\"hanmeter_5706567271589419_%s\"", ni->name);
		assert_string_equal(member(payload, "unique_id", v, sizeof v), want);
		assert_string_equal(member(payload, "state_topic", v, sizeof v), "\"hanmeter/house/state\"");
		snprintf(want, sizeof want, "\"{{ value_json.%s if value_json.%s is defined else '' }}\"", ni->name,
		         ni->name);
		assert_string_equal(member(payload, "value_template", v, sizeof v), want);
		assert_string_equal(member(payload, "availability", v, sizeof v),
		                    "[{\"topic\":\"hanmeter/status\"},{\"topic\":\"hanmeter/house/availability\"}]");
		assert_string_equal(member(payload, "availability_mode", v, sizeof v), "\"all\"");
		assert_string_equal(member(payload, "identifiers", v, sizeof v), "[\"hanmeter_5706567271589419\"]");
		assert_string_equal(member(payload, "manufacturer", v, sizeof v), "\"Kamstrup\"");
		assert_string_equal(member(payload, "model", v, sizeof v), "\"6841121BN243101040\"");
		assert_string_equal(member(payload, "serial_number", v, sizeof v), "\"5706567271589419\"");
		assert_string_equal(member(payload, "sw_version", v, sizeof v), "\"Kamstrup_V0001\"");
		if (strstr(ni->name, "_kwh")) {
			/* the energy dashboard's three conditions */
			assert_string_equal(member(payload, "device_class", v, sizeof v), "\"energy\"");
			assert_string_equal(member(payload, "state_class", v, sizeof v), "\"total_increasing\"");
			assert_string_equal(member(payload, "unit_of_measurement", v, sizeof v), "\"kWh\"");
		} else if (strstr(ni->name, "power_factor")) {
			/* dimensionless: HA wants no unit, not "" */
			assert_null(member(payload, "unit_of_measurement", v, sizeof v));
			assert_string_equal(member(payload, "device_class", v, sizeof v), "\"power_factor\"");
		} else if (strstr(ni->name, "_kvarh")) {
			assert_string_equal(member(payload, "unit_of_measurement", v, sizeof v), "\"kvarh\"");
			assert_string_equal(member(payload, "state_class", v, sizeof v), "\"total_increasing\"");
		} else {
			/* other fields (heat meters, M-Bus channels) carry their own class */
			snprintf(want, sizeof want, "\"%s\"", ni->state_class);
			assert_string_equal(member(payload, "state_class", v, sizeof v), want);
		}
		/* a buffer too small is an error, never a cut message */
		assert_int_equal(hm_ha_config_payload(&topics, &dev, (enum hm_num_field)f, payload, 100), -1);
	}
}

static void titles(void **st)
{
	(void)st;
	static const struct {
		enum hm_num_field f;
		const char *title;
	} t[] = {
	    {HM_NUM_ACTIVE_POWER_IMPORT_W, "Active power import"},
	    {HM_NUM_ACTIVE_POWER_IMPORT_L1_W, "Active power import L1"},
	    {HM_NUM_CURRENT_L3_A, "Current L3"},
	    {HM_NUM_VOLTAGE_L2_V, "Voltage L2"},
	    {HM_NUM_ACTIVE_ENERGY_IMPORT_T1_KWH, "Active energy import T1"},
	    {HM_NUM_REACTIVE_ENERGY_EXPORT_KVARH, "Reactive energy export"},
	    {HM_NUM_REACTIVE_POWER_EXPORT_L2_VAR, "Reactive power export L2"},
	    {HM_NUM_POWER_FACTOR, "Power factor"},
	    {HM_NUM_POWER_FACTOR_L1, "Power factor L1"},
	};
	char buf[64];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		assert_int_equal(hm_ha_field_title(t[i].f, buf, sizeof buf), (int)strlen(t[i].title));
		assert_string_equal(buf, t[i].title);
	}
	assert_int_equal(hm_ha_field_title(HM_NUM_CURRENT_L3_A, buf, 5), -1);
}

/* Ids with bytes HA does not allow in node ids are made safe; JSON strings
 * (name, serial) keep the real text, escaped. */
static void awkward_ident(void **st)
{
	(void)st;
	char topic[256], payload[2048], v[256];
	struct hm_ha_device d = dev;
	d.ident = "1KFM 01/\"x\"";
	d.meter = "m\"1";
	d.model = NULL;
	d.manufacturer = NULL;
	d.sw_version = NULL;
	assert_true(hm_ha_config_topic(&topics, &d, HM_NUM_VOLTAGE_L1_V, topic, sizeof topic) > 0);
	assert_string_equal(topic, "homeassistant/sensor/hanmeter_1KFM_01__x_/voltage_l1_v/config");
	assert_true(hm_ha_config_payload(&topics, &d, HM_NUM_VOLTAGE_L1_V, payload, sizeof payload) > 0);
	assert_true(json_plausible(payload));
	assert_string_equal(member(payload, "unique_id", v, sizeof v), "\"hanmeter_1KFM_01__x__voltage_l1_v\"");
	assert_string_equal(member(payload, "serial_number", v, sizeof v), "\"1KFM 01/\\\"x\\\"\"");
	assert_null(member(payload, "model", v, sizeof v));
	assert_null(member(payload, "manufacturer", v, sizeof v));
}

static void ident_preference(void **st)
{
	(void)st;
	static struct hm_reading r;
	hm_reading_clear(&r);
	assert_null(hm_ha_ident(&r)); /* Aidon list 1: power only, no identity */
	hm_reading_set_text(&r, HM_TEXT_LOGICAL_DEVICE_NAME, "KFM1100100000035", 16);
	assert_string_equal(hm_ha_ident(&r), "KFM1100100000035");
	hm_reading_set_text(&r, HM_TEXT_METER_SERIAL, "27581522", 8);
	assert_string_equal(hm_ha_ident(&r), "27581522");
	hm_reading_set_text(&r, HM_TEXT_METER_ID, "5706567271589419", 16);
	assert_string_equal(hm_ha_ident(&r), "5706567271589419");
}

/* The derived sensors, written out by hand: member, unit, device_class,
 * state_class ("" = absent).  Every member named here is one that
 * hm_derived_json() documents in derived.h. */
static const struct {
	const char *member, *unit, *dc, *sc;
} derived_want[] = {
    {"energy_import_last_hour_kwh", "kWh", "energy", ""},
    {"energy_export_last_hour_kwh", "kWh", "energy", ""},
    {"last_hour_start", "", "timestamp", ""},
    {"energy_import_today_kwh", "kWh", "energy", "total_increasing"},
    {"energy_export_today_kwh", "kWh", "energy", "total_increasing"},
    {"energy_import_month_kwh", "kWh", "energy", "total_increasing"},
    {"energy_export_month_kwh", "kWh", "energy", "total_increasing"},
    {"energy_import_yesterday_kwh", "kWh", "energy", ""},
    {"energy_export_yesterday_kwh", "kWh", "energy", ""},
    {"energy_import_last_month_kwh", "kWh", "energy", ""},
    {"energy_export_last_month_kwh", "kWh", "energy", ""},
    {"capacity_tariff_mean_kw", "kW", "power", "measurement"},
    {"capacity_tariff_step", "", "", ""},
    {"capacity_tariff_last_month_mean_kw", "kW", "power", ""},
    {"capacity_tariff_last_month_step", "", "", ""},
};

static void opt_member(const char *payload, const char *name, const char *want, const char *what)
{
	char v[128], q[128];
	if (!want[0]) {
		if (member(payload, name, v, sizeof v))
			fail_msg("%s: %s is %s, want none", what, name, v);
		return;
	}
	snprintf(q, sizeof q, "\"%s\"", want);
	if (!member(payload, name, v, sizeof v) || strcmp(v, q) != 0)
		fail_msg("%s: %s is %s, want %s", what, name, member(payload, name, v, sizeof v) ? v : "absent", q);
}

static void derived_sensors(void **st)
{
	(void)st;
	char topic[256], payload[2048], v[512], want[512];
	assert_int_equal(HM_HA_DERIVED_COUNT, sizeof derived_want / sizeof derived_want[0]);
	for (unsigned i = 0; i < HM_HA_DERIVED_COUNT; i++) {
		const char *name = derived_want[i].member;
		assert_string_equal(hm_ha_derived[i].member, name);
		int tl = hm_ha_derived_topic(&topics, &dev, i, topic, sizeof topic);
		int pl = hm_ha_derived_payload(&topics, &dev, i, payload, sizeof payload);
		assert_int_equal(tl, (int)strlen(topic));
		assert_int_equal(pl, (int)strlen(payload));
		snprintf(want, sizeof want, "homeassistant/sensor/hanmeter_5706567271589419/%s/config", name);
		assert_string_equal(topic, want);
		if (!json_plausible(payload))
			fail_msg("bad JSON for %s: %s", name, payload);
		snprintf(want, sizeof want, "\"hanmeter_5706567271589419_%s\"", name);
		assert_string_equal(member(payload, "unique_id", v, sizeof v), want);
		assert_string_equal(member(payload, "state_topic", v, sizeof v), "\"hanmeter/house/derived\"");
		snprintf(want, sizeof want, "\"{{ value_json.%s if value_json.%s is defined else '' }}\"", name, name);
		assert_string_equal(member(payload, "value_template", v, sizeof v), want);
		assert_non_null(member(payload, "name", v, sizeof v));
		assert_string_equal(member(payload, "identifiers", v, sizeof v), "[\"hanmeter_5706567271589419\"]");
		assert_string_equal(member(payload, "availability", v, sizeof v),
		                    "[{\"topic\":\"hanmeter/status\"},{\"topic\":\"hanmeter/house/availability\"}]");
		opt_member(payload, "unit_of_measurement", derived_want[i].unit, name);
		opt_member(payload, "device_class", derived_want[i].dc, name);
		opt_member(payload, "state_class", derived_want[i].sc, name);
		assert_int_equal(hm_ha_derived_payload(&topics, &dev, i, payload, 100), -1);
	}
	/* out of range, or no derived topic: an error, not a sensor reading nothing */
	assert_int_equal(hm_ha_derived_topic(&topics, &dev, HM_HA_DERIVED_COUNT, topic, sizeof topic), -1);
	assert_int_equal(hm_ha_derived_payload(&topics, &dev, HM_HA_DERIVED_COUNT, payload, sizeof payload), -1);
	struct hm_ha_topics t = topics;
	t.derived = NULL;
	assert_int_equal(hm_ha_derived_payload(&t, &dev, 0, payload, sizeof payload), -1);
}

/* Unique ids are "hanmeter_<ident>_<object>": a derived member named like
 * a reading field would give two sensors one id, and one config topic. */
static void derived_ids_distinct(void **st)
{
	(void)st;
	for (unsigned i = 0; i < HM_HA_DERIVED_COUNT; i++) {
		for (int f = 0; f < HM_NUM_COUNT; f++)
			if (strcmp(hm_ha_derived[i].member, hm_num_info[f].name) == 0)
				fail_msg("derived member %s is also a field name", hm_ha_derived[i].member);
		for (unsigned k = 0; k < i; k++)
			assert_string_not_equal(hm_ha_derived[i].member, hm_ha_derived[k].member);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_field),     cmocka_unit_test(titles),
	    cmocka_unit_test(awkward_ident),   cmocka_unit_test(ident_preference),
	    cmocka_unit_test(derived_sensors), cmocka_unit_test(derived_ids_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
