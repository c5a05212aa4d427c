/*
 * registry.c - the two extension tables.  A new source or sink is one file
 * in src/source or src/sink and one line here; test_registry checks every
 * entry (unique names, every required callback set).
 */
#include <stddef.h>

#include "daemon.h"

extern const struct hm_source_ops hm_source_kmp, hm_source_serial, hm_source_tcp, hm_source_file, hm_source_mqtt;
extern const struct hm_sink_ops hm_sink_mqtt, hm_sink_domoticz, hm_sink_journal, hm_sink_jsonl;

/* Tried in order; config.c guarantees exactly one claims a meter. */
const struct hm_source_ops *const hm_sources[] = {
    &hm_source_kmp,    /* kmp = yes, with device = or tcp = */
    &hm_source_serial, /* device = */
    &hm_source_tcp,    /* tcp = */
    &hm_source_file,   /* file = */
    &hm_source_mqtt,   /* mqtt_topic = */
    NULL,
};

/* Started in order, stopped in reverse order. */
const struct hm_sink_ops *const hm_sinks[] = {
    &hm_sink_mqtt,     /* [mqtt] */
    &hm_sink_domoticz, /* [domoticz] */
    &hm_sink_journal,  /* [journal] */
    &hm_sink_jsonl,    /* [jsonl] */
    NULL,
};
