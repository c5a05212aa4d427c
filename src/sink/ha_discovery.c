/*
 * ha_discovery.c - Home Assistant MQTT discovery payloads (see ha_discovery.h).
 *
 * Schema: Home Assistant "MQTT Discovery" and "MQTT Sensor" documentation.
 * A sensor is accepted by the energy dashboard when it has device_class
 * energy, state_class total_increasing (or total) and an energy unit (kWh);
 * those three come from the field table in reading.h, so a field added
 * there is announced correctly without touching this file.
 *
 * Derived figures (hm_ha_derived[] below) follow HA's state classes as its
 * developer documentation defines them: a total that restarts from 0 each
 * cycle (today, this month) is total_increasing, a drop being read as the
 * next cycle; a value describing a past period (last hour, yesterday, last
 * month) has no state_class, so statistics never mistake its change for
 * consumption (HA warns when energy comes with measurement).  The capacity
 * mean is a kW figure that moves within the month: power, measurement.
 */
#include <stdio.h>
#include <string.h>

#include "hanmeter/reading.h"
#include "sink/ha_discovery.h"
#include "sink/strbuf.h"

const char *hm_ha_ident(const struct hm_reading *r)
{
	static const enum hm_text_field pref[] = {HM_TEXT_METER_ID, HM_TEXT_METER_SERIAL, HM_TEXT_METER_NUMBER,
	                                          HM_TEXT_LOGICAL_DEVICE_NAME};
	for (size_t i = 0; i < sizeof pref / sizeof pref[0]; i++)
		if (hm_reading_has_text(r, pref[i]) && r->text[pref[i]][0])
			return r->text[pref[i]];
	return NULL;
}

/* Unit suffixes of the field names (reading.h): "_w", "_kwh", ... */
static const char *const unit_suffix[] = {"_w", "_var", "_a", "_v", "_kwh", "_kvarh"};

int hm_ha_field_title(enum hm_num_field f, char *buf, size_t cap)
{
	const char *name = hm_num_info[f].name;
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof unit_suffix / sizeof unit_suffix[0]; i++) {
		size_t sl = strlen(unit_suffix[i]);
		if (n > sl && strcmp(name + n - sl, unit_suffix[i]) == 0) {
			n -= sl;
			break;
		}
	}
	if (n + 1 > cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool word_start = i == 0 || name[i - 1] == '_';
		if (c == '_')
			c = ' ';
		else if (i == 0)
			c = (char)(c - 'a' + 'A');
		/* "l1".."l3", "t1", "t2": phase and tariff tags */
		else if (word_start && (c == 'l' || c == 't') && i + 1 < n && name[i + 1] >= '0' && name[i + 1] <= '9')
			c = (char)(c - 'a' + 'A');
		buf[i] = c;
	}
	buf[n] = 0;
	return (int)n;
}

/* An HA node/object id: bytes outside [A-Za-z0-9_-] become '_'. */
static void add_id(struct hm_strbuf *b, const char *s)
{
	for (; *s; s++) {
		char c = *s;
		bool ok =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
		hm_strbuf_add(b, ok ? &c : "_", 1);
	}
}

/* <prefix>/sensor/hanmeter_<ident>/<object>/config */
static int config_topic(const struct hm_ha_topics *t, const struct hm_ha_device *dev, const char *object, char *buf,
                        size_t cap)
{
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	hm_strbuf_printf(&b, "%s/sensor/hanmeter_", t->discovery_prefix);
	add_id(&b, dev->ident);
	hm_strbuf_printf(&b, "/%s/config", object);
	return b.overflow ? -1 : (int)b.len;
}

/* What one sensor reads and how HA should treat it. */
struct sensor {
	const char *object;       /* JSON member in the state message, [a-z0-9_] */
	const char *title;        /* name */
	const char *state_topic;  /* where the member is */
	const char *unit;         /* or NULL/"": none */
	const char *device_class; /* or NULL */
	const char *state_class;  /* or NULL */
};

static int config_payload(const struct hm_ha_topics *t, const struct hm_ha_device *dev, const struct sensor *sn,
                          char *buf, size_t cap)
{
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	hm_strbuf_puts(&b, "{\"name\":");
	hm_strbuf_json(&b, sn->title);
	hm_strbuf_puts(&b, ",\"unique_id\":\"hanmeter_");
	add_id(&b, dev->ident);
	hm_strbuf_printf(&b, "_%s\",\"state_topic\":", sn->object);
	hm_strbuf_json(&b, sn->state_topic);
	/* Member names are [a-z0-9_] (reading.h, derived.h), safe inside the
	 * template; '' when absent, which HA's MQTT sensor ignores. */
	hm_strbuf_printf(&b, ",\"value_template\":\"{{ value_json.%s if value_json.%s is defined else '' }}\"",
	                 sn->object, sn->object);
	/* Dimensionless fields (power factor) have no unit; HA wants none. */
	if (sn->unit && sn->unit[0]) {
		hm_strbuf_puts(&b, ",\"unit_of_measurement\":");
		hm_strbuf_json(&b, sn->unit);
	}
	if (sn->device_class)
		hm_strbuf_printf(&b, ",\"device_class\":\"%s\"", sn->device_class);
	if (sn->state_class)
		hm_strbuf_printf(&b, ",\"state_class\":\"%s\"", sn->state_class);
	hm_strbuf_puts(&b, ",\"availability\":[{\"topic\":");
	hm_strbuf_json(&b, t->daemon_status);
	hm_strbuf_puts(&b, "},{\"topic\":");
	hm_strbuf_json(&b, t->availability);
	hm_strbuf_puts(&b, "}],\"availability_mode\":\"all\",\"payload_available\":\"" HM_HA_PAYLOAD_AVAILABLE
	                   "\",\"payload_not_available\":\"" HM_HA_PAYLOAD_NOT_AVAILABLE "\"");
	hm_strbuf_puts(&b, ",\"device\":{\"identifiers\":[\"hanmeter_");
	add_id(&b, dev->ident);
	hm_strbuf_puts(&b, "\"],\"name\":");
	hm_strbuf_json(&b, dev->meter);
	if (dev->manufacturer) {
		hm_strbuf_puts(&b, ",\"manufacturer\":");
		hm_strbuf_json(&b, dev->manufacturer);
	}
	if (dev->model) {
		hm_strbuf_puts(&b, ",\"model\":");
		hm_strbuf_json(&b, dev->model);
	}
	hm_strbuf_puts(&b, ",\"serial_number\":");
	hm_strbuf_json(&b, dev->ident);
	if (dev->sw_version) {
		hm_strbuf_puts(&b, ",\"sw_version\":");
		hm_strbuf_json(&b, dev->sw_version);
	}
	hm_strbuf_puts(&b, "},\"origin\":{\"name\":\"hanmeterd\",\"sw_version\":\"" HM_VERSION "\"}}");
	return b.overflow ? -1 : (int)b.len;
}

int hm_ha_config_topic(const struct hm_ha_topics *t, const struct hm_ha_device *dev, enum hm_num_field f, char *buf,
                       size_t cap)
{
	return config_topic(t, dev, hm_num_info[f].name, buf, cap);
}

int hm_ha_config_payload(const struct hm_ha_topics *t, const struct hm_ha_device *dev, enum hm_num_field f, char *buf,
                         size_t cap)
{
	const struct hm_num_info *ni = &hm_num_info[f];
	char title[64];
	if (hm_ha_field_title(f, title, sizeof title) < 0)
		return -1;
	const struct sensor sn = {ni->name, title, t->state, ni->unit, ni->device_class, ni->state_class};
	return config_payload(t, dev, &sn, buf, cap);
}

/* The members of hm_derived_json() worth a sensor: the figures.  Left out:
 * the top-three arrays and last_hour_estimated (attributes, not states) and
 * the hour counts and event counters (diagnostics, in the JSON). */
const struct hm_ha_derived hm_ha_derived[HM_HA_DERIVED_COUNT] = {
    {"energy_import_last_hour_kwh", "Energy import last hour", "kWh", "energy", NULL},
    {"energy_export_last_hour_kwh", "Energy export last hour", "kWh", "energy", NULL},
    {"last_hour_start", "Last hour start", NULL, "timestamp", NULL}, /* ISO 8601 with offset */
    {"energy_import_today_kwh", "Energy import today", "kWh", "energy", "total_increasing"},
    {"energy_export_today_kwh", "Energy export today", "kWh", "energy", "total_increasing"},
    {"energy_import_month_kwh", "Energy import this month", "kWh", "energy", "total_increasing"},
    {"energy_export_month_kwh", "Energy export this month", "kWh", "energy", "total_increasing"},
    {"energy_import_yesterday_kwh", "Energy import yesterday", "kWh", "energy", NULL},
    {"energy_export_yesterday_kwh", "Energy export yesterday", "kWh", "energy", NULL},
    {"energy_import_last_month_kwh", "Energy import last month", "kWh", "energy", NULL},
    {"energy_export_last_month_kwh", "Energy export last month", "kWh", "energy", NULL},
    {"capacity_tariff_mean_kw", "Capacity tariff mean", "kW", "power", "measurement"},
    {"capacity_tariff_step", "Capacity tariff step", NULL, NULL, NULL},
    {"capacity_tariff_last_month_mean_kw", "Capacity tariff last month mean", "kW", "power", NULL},
    {"capacity_tariff_last_month_step", "Capacity tariff last month step", NULL, NULL, NULL},
};

int hm_ha_derived_topic(const struct hm_ha_topics *t, const struct hm_ha_device *dev, unsigned i, char *buf, size_t cap)
{
	if (i >= HM_HA_DERIVED_COUNT)
		return -1;
	return config_topic(t, dev, hm_ha_derived[i].member, buf, cap);
}

int hm_ha_derived_payload(const struct hm_ha_topics *t, const struct hm_ha_device *dev, unsigned i, char *buf,
                          size_t cap)
{
	if (i >= HM_HA_DERIVED_COUNT || !t->derived)
		return -1;
	const struct hm_ha_derived *hd = &hm_ha_derived[i];
	const struct sensor sn = {hd->member, hd->title, t->derived, hd->unit, hd->device_class, hd->state_class};
	return config_payload(t, dev, &sn, buf, cap);
}
