-- 0004: nat events as NAT detection emits them (docs/nat.md): the RFC 4787 mapping and filtering
-- behind nat_type and where they were learned, the per-kind evidence counts beside the original
-- ones, the values behind them (TTL classes, SYN signatures, inside addresses), UPnP port
-- mappings and the inbound connections the gateway accepted (one array column per member).

ALTER TABLE ${DB}.nat ADD COLUMN nat_mapping ${LC} AFTER nat_nat_type;
ALTER TABLE ${DB}.nat ADD COLUMN nat_filtering ${LC} AFTER nat_mapping;
ALTER TABLE ${DB}.nat ADD COLUMN nat_type_source ${LC} AFTER nat_filtering;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_syn_signatures UInt32 AFTER nat_evidence_ja4;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_port_runs UInt32 AFTER nat_evidence_syn_signatures;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_paired_hosts UInt32 AFTER nat_evidence_port_runs;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_syns UInt32 AFTER nat_evidence_paired_hosts;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_ttls Array(String) AFTER nat_evidence_syns;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_signatures Array(String) AFTER nat_evidence_ttls;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_inside_hosts Array(String) AFTER nat_evidence_signatures;
ALTER TABLE ${DB}.nat ADD COLUMN nat_upnp_gateway String AFTER nat_cgnat;
ALTER TABLE ${DB}.nat ADD COLUMN nat_upnp_mappings_external_port Array(UInt16) AFTER nat_upnp_gateway;
ALTER TABLE ${DB}.nat ADD COLUMN nat_upnp_mappings_protocol Array(String) AFTER nat_upnp_mappings_external_port;
ALTER TABLE ${DB}.nat ADD COLUMN nat_upnp_mappings_internal_client Array(String) AFTER nat_upnp_mappings_protocol;
ALTER TABLE ${DB}.nat ADD COLUMN nat_upnp_mappings_internal_port Array(UInt16) AFTER nat_upnp_mappings_internal_client;
ALTER TABLE ${DB}.nat ADD COLUMN nat_port_forwards_port Array(UInt16) AFTER nat_upnp_mappings_internal_port;
ALTER TABLE ${DB}.nat ADD COLUMN nat_port_forwards_accepted Array(UInt32) AFTER nat_port_forwards_port;
