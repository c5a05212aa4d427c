/*
 * ha_discovery.h - Home Assistant MQTT discovery messages for a meter.
 *
 * One HA device per meter (identified by the meter's own id, so that it
 * survives a rename in hanmeterd.conf) and one sensor per numeric field the
 * meter has sent.  Each sensor reads its value out of the meter's state
 * topic with a template that renders '' when the message lacks the field
 * (lists 1, 2 and 3 carry different fields; HA ignores an empty state
 * instead of raising a template error), and is available only while both
 * the daemon (<prefix>/status, the last will) and the meter's source
 * (<prefix>/<meter>/availability) say "online".
 *
 * Config topic: <discovery_prefix>/sensor/<node_id>/<field>/config, node_id
 * "hanmeter_<meter id>" with every byte outside [A-Za-z0-9_-] made '_'
 * (HA's rule for node and object ids).
 *
 * The derived figures (derived.h, on <prefix>/<meter>/derived) are sensors
 * of the same device, one per hm_ha_derived[] entry, object id and unique id
 * suffix the JSON member's name (no clash with a field name: tested).
 */
#ifndef HM_SINK_HA_DISCOVERY_H
#define HM_SINK_HA_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "hanmeter/reading.h"

#define HM_HA_PAYLOAD_AVAILABLE     "online"
#define HM_HA_PAYLOAD_NOT_AVAILABLE "offline"

/* Who the meter is, as the readings told us. */
struct hm_ha_device {
	const char *meter;        /* the [meter NAME] of hanmeterd.conf: HA device name */
	const char *ident;        /* meter id / serial: identifiers, serial_number (never NULL) */
	const char *manufacturer; /* from the profile ("Aidon"), or NULL */
	const char *model;        /* meter_model, or NULL */
	const char *sw_version;   /* the list version ("AIDON_V0001"), or NULL */
};

/* The topics the sensors refer to. */
struct hm_ha_topics {
	const char *discovery_prefix; /* "homeassistant" */
	const char *state;            /* "<prefix>/<meter>/state" */
	const char *daemon_status;    /* "<prefix>/status" (last will) */
	const char *availability;     /* "<prefix>/<meter>/availability" */
	const char *derived;          /* "<prefix>/<meter>/derived" (hm_ha_derived_payload only) */
};

/* A derived figure announced as a sensor.  state_class NULL keeps a figure
 * out of HA's long-term statistics: right for a past period (yesterday,
 * last month), whose value is neither a measurement nor a running total. */
struct hm_ha_derived {
	const char *member;       /* hm_derived_json() member: object id, unique id suffix */
	const char *title;        /* sensor name */
	const char *unit;         /* unit_of_measurement, or NULL */
	const char *device_class; /* or NULL */
	const char *state_class;  /* or NULL */
};

#define HM_HA_DERIVED_COUNT 15
extern const struct hm_ha_derived hm_ha_derived[HM_HA_DERIVED_COUNT];

/* The meter's identity from a reading: meter_id, else meter_serial, else
 * meter_number, else logical_device_name; NULL if it carries none. */
const char *hm_ha_ident(const struct hm_reading *r);

/* "Active power import L1" for "active_power_import_l1_w": the field name
 * without its unit suffix, first letter upper case, phase and tariff tags
 * (l1, t2) upper case.  Returns the length, or -1 if cap is too small. */
int hm_ha_field_title(enum hm_num_field f, char *buf, size_t cap);

/* The config topic of field f.  Returns the length, or -1. */
int hm_ha_config_topic(const struct hm_ha_topics *t, const struct hm_ha_device *dev, enum hm_num_field f, char *buf,
                       size_t cap);

/* The config payload (JSON) of field f.  Returns the length, or -1. */
int hm_ha_config_payload(const struct hm_ha_topics *t, const struct hm_ha_device *dev, enum hm_num_field f, char *buf,
                         size_t cap);

/* The config topic and payload of derived figure hm_ha_derived[i]; the
 * sensor reads t->derived.  Each returns the length, or -1. */
int hm_ha_derived_topic(const struct hm_ha_topics *t, const struct hm_ha_device *dev, unsigned i, char *buf,
                        size_t cap);
int hm_ha_derived_payload(const struct hm_ha_topics *t, const struct hm_ha_device *dev, unsigned i, char *buf,
                          size_t cap);

#endif
