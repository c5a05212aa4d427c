/*
 * domoticz.h - the Domoticz sink (HTTP JSON API or domoticz/in over MQTT).
 */
#ifndef HM_SINK_DOMOTICZ_H
#define HM_SINK_DOMOTICZ_H

#include "daemon.h"

extern const struct hm_sink_ops hm_sink_domoticz;

#endif
