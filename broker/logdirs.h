/* DescribeLogDirs (Kafka API 35, v0-1): where each partition lives and how
 * many bytes it takes on disk. This is how Kafka's tools (kafka-log-dirs,
 * logshipctl topics describe) learn a partition's size; logship-broker has
 * one log directory, data_dir. */
#ifndef LOGSHIP_BROKER_LOGDIRS_H
#define LOGSHIP_BROKER_LOGDIRS_H
#include <stdint.h>

#include "common/kafka_codec.h"

#define KAPI_DESCRIBE_LOG_DIRS 35

struct broker;

/* Answers one DescribeLogDirs request (header already read from r): an
 * enum req_result, REQ_CLOSE when the request does not parse. */
int logdirs_describe(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w);

#endif
