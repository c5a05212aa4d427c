/*
 * mqtt.h - the MQTT sink (hm_sink_mqtt) and the one service it offers to
 * other sinks: publishing over its connection (Domoticz's domoticz/in).
 *
 * Topics, with P = [mqtt] topic_prefix and M = the [meter M] name:
 *   P/status               online/offline, retained; the last will says offline
 *   P/M/availability       online/offline, retained: the meter's source
 *   P/M/state              one JSON object per reading (format.h)
 *   P/M/derived            hourly/daily/monthly energy, capacity tariff (derived.h),
 *                          after each hourly list that changes them
 *   P/M/raw                hex of every good frame, 7E to 7E ([mqtt] raw = yes), QoS 0;
 *                          a segmented message: its last frame
 *   <discovery>/sensor/... Home Assistant discovery, retained (ha_discovery.h)
 */
#ifndef HM_SINK_MQTT_H
#define HM_SINK_MQTT_H

#include <stdbool.h>

#include "daemon.h"

extern const struct hm_sink_ops hm_sink_mqtt;

/* Publishes on the MQTT sink's connection.  0, -ENOTCONN when the sink is
 * not running or the broker is away (nothing is queued: callers send
 * latest values and try again later), -EIO when libmosquitto refuses. */
int hm_mqtt_publish(const char *topic, const char *payload, int qos, bool retain);

#endif
