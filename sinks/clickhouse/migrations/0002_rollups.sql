-- 0002: rollups for dashboards over long ranges, filled by materialized views as rows arrive.
-- SummingMergeTree adds rows with the same key on merge: always read them with sum() … GROUP BY.
-- Service = (proto, dest_port). Counts are at-least-once: a batch re-sent after a lost
-- acknowledgement is counted twice here (the raw tables dedupe by event_id).

CREATE TABLE IF NOT EXISTS ${DB}.flow_1m (
    minute DateTime,
    sensor ${LC},
    app_proto ${LC},
    proto ${LC},
    dest_port UInt16,
    dest_ip ${IP},
    flows UInt64,
    pkts UInt64,
    bytes_toserver UInt64,
    bytes_toclient UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, sensor, app_proto, proto, dest_port, dest_ip);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${DB}.flow_1m_mv TO ${DB}.flow_1m AS
SELECT toStartOfMinute(timestamp) AS minute, sensor, app_proto, proto, dest_port, dest_ip,
       count() AS flows, sum(flow_pkts_toserver + flow_pkts_toclient) AS pkts,
       sum(flow_bytes_toserver) AS bytes_toserver, sum(flow_bytes_toclient) AS bytes_toclient
FROM ${DB}.flow
GROUP BY minute, sensor, app_proto, proto, dest_port, dest_ip;

CREATE TABLE IF NOT EXISTS ${DB}.flow_1h (
    hour DateTime,
    sensor ${LC},
    app_proto ${LC},
    proto ${LC},
    dest_port UInt16,
    dest_ip ${IP},
    flows UInt64,
    pkts UInt64,
    bytes_toserver UInt64,
    bytes_toclient UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(hour)
ORDER BY (hour, sensor, app_proto, proto, dest_port, dest_ip);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${DB}.flow_1h_mv TO ${DB}.flow_1h AS
SELECT toStartOfHour(timestamp) AS hour, sensor, app_proto, proto, dest_port, dest_ip,
       count() AS flows, sum(flow_pkts_toserver + flow_pkts_toclient) AS pkts,
       sum(flow_bytes_toserver) AS bytes_toserver, sum(flow_bytes_toclient) AS bytes_toclient
FROM ${DB}.flow
GROUP BY hour, sensor, app_proto, proto, dest_port, dest_ip;

CREATE TABLE IF NOT EXISTS ${DB}.block_1m (
    minute DateTime,
    sensor ${LC},
    block_list ${LC},
    block_name String,
    block_surface ${LC},
    block_action ${LC},
    hits UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, sensor, block_list, block_name, block_surface, block_action);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${DB}.block_1m_mv TO ${DB}.block_1m AS
SELECT toStartOfMinute(timestamp) AS minute, sensor, block_list, block_name, block_surface, block_action,
       count() AS hits
FROM ${DB}.block
GROUP BY minute, sensor, block_list, block_name, block_surface, block_action;

CREATE TABLE IF NOT EXISTS ${DB}.block_1h (
    hour DateTime,
    sensor ${LC},
    block_list ${LC},
    block_name String,
    block_surface ${LC},
    block_action ${LC},
    hits UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(hour)
ORDER BY (hour, sensor, block_list, block_name, block_surface, block_action);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${DB}.block_1h_mv TO ${DB}.block_1h AS
SELECT toStartOfHour(timestamp) AS hour, sensor, block_list, block_name, block_surface, block_action,
       count() AS hits
FROM ${DB}.block
GROUP BY hour, sensor, block_list, block_name, block_surface, block_action;
