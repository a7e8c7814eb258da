-- 0001: one table per event type, columns named after the JSON fields with dots turned into
-- underscores (docs/events.md). ${COMMON} is the columns every event has (schema.go, frozen with
-- this migration). Tables are ReplacingMergeTree with event_id as the last sort column: a batch
-- re-sent after a lost acknowledgement collapses on merge; exact queries dedupe by event_id.
-- Partitions are days (retention drops whole days); the primary key leads with the hour so the
-- time-range filter of every dashboard panel prunes granules.

CREATE TABLE IF NOT EXISTS ${DB}.flow (
    ${COMMON},
    flow_pkts_toserver UInt64,
    flow_pkts_toclient UInt64,
    flow_bytes_toserver UInt64,
    flow_bytes_toclient UInt64,
    flow_start ${TIME},
    flow_end ${TIME},
    flow_age Int64,
    flow_state ${LC},
    flow_reason ${LC},
    flow_tcp_flags ${LC},
    flow_tcp_flags_ts ${LC},
    flow_tcp_flags_tc ${LC},
    flow_history ${LC},
    flow_missed_bytes UInt64,
    flow_midstream UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), sensor, app_proto, dest_port, event_id);

CREATE TABLE IF NOT EXISTS ${DB}.http (
    ${COMMON},
    http_hostname String,
    http_http_port UInt16,
    http_url String,
    http_http_method ${LC},
    http_protocol ${LC},
    http_http_user_agent String,
    http_http_refer String,
    http_xff String,
    http_http_content_type ${LC},
    http_status UInt16,
    http_length Int64,
    http_redirect String,
    http_proxied UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), sensor, http_hostname, event_id);

CREATE TABLE IF NOT EXISTS ${DB}.tls (
    ${COMMON},
    tls_sni String,
    tls_version ${LC},
    tls_alpn Array(String),
    tls_alpn_server ${LC},
    tls_ja3_hash String,
    tls_ja3_string String,
    tls_ja3s_hash String,
    tls_ja3s_string String,
    tls_ja4 String,
    tls_cipher_suites Array(UInt16),
    tls_cipher_suite UInt16,
    tls_supported_versions Array(UInt16),
    tls_extensions Array(UInt16),
    tls_ech UInt8,
    tls_subject String,
    tls_issuerdn String,
    tls_serial String,
    tls_fingerprint String,
    tls_notbefore String,
    tls_notafter String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), sensor, tls_sni, event_id);

CREATE TABLE IF NOT EXISTS ${DB}.quic (
    ${COMMON},
    quic_version ${LC},
    quic_sni String,
    quic_alpn Array(String),
    quic_ja3_hash String,
    quic_ja3_string String,
    quic_ja4 String,
    quic_ua String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), sensor, quic_sni, event_id);

CREATE TABLE IF NOT EXISTS ${DB}.dns (
    ${COMMON},
    dns_type ${LC},
    dns_id UInt16,
    dns_rrname String,
    dns_rrtype ${LC},
    dns_rcode ${LC},
    dns_answers_rrname Array(String),
    dns_answers_rrtype Array(String),
    dns_answers_ttl Array(UInt32),
    dns_answers_rdata Array(String),
    dns_tcp UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), sensor, dns_rrname, event_id);

CREATE TABLE IF NOT EXISTS ${DB}.block (
    ${COMMON},
    block_surface ${LC},
    block_name String,
    block_rule_id String,
    block_list ${LC},
    block_list_version ${LC},
    block_matched String,
    block_action ${LC}
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), block_list, block_name, event_id);

CREATE TABLE IF NOT EXISTS ${DB}.inject (
    ${COMMON},
    inject_kind ${LC},
    inject_packets UInt32,
    inject_seq UInt32,
    inject_ack UInt32,
    inject_latency_us UInt64,
    inject_outcome ${LC},
    inject_dry_run UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), sensor, inject_kind, event_id);

CREATE TABLE IF NOT EXISTS ${DB}.nat (
    ${COMMON},
    nat_public_ip ${IP},
    nat_hosts_estimate UInt32,
    nat_confidence Float64,
    nat_evidence_ttl_classes UInt32,
    nat_evidence_ipid_sequences UInt32,
    nat_evidence_clocks UInt32,
    nat_evidence_user_agents UInt32,
    nat_evidence_ja4 UInt32,
    nat_nat_type ${LC},
    nat_port_allocation ${LC},
    nat_cgnat UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), sensor, nat_public_ip, event_id);

CREATE TABLE IF NOT EXISTS ${DB}.anomaly (
    ${COMMON},
    anomaly_type ${LC},
    anomaly_event ${LC},
    anomaly_detail String,
    anomaly_vpn ${LC},
    anomaly_proxy ${LC}
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), sensor, anomaly_type, event_id);

CREATE TABLE IF NOT EXISTS ${DB}.stats (
    ${COMMON},
    stats String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (toStartOfHour(timestamp), sensor, event_id);
