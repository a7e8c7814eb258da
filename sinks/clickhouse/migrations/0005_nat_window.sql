-- 0005: the rest of the nat object (docs/events.md): the packet-time span of the evidence, the
-- port sample count, the User-Agent families and JA4 values, the UPnP mappings' description and
-- lease, and the protocol of accepted port forwards.

ALTER TABLE ${DB}.nat ADD COLUMN nat_window_start ${TIME} AFTER nat_cgnat;
ALTER TABLE ${DB}.nat ADD COLUMN nat_window_end ${TIME} AFTER nat_window_start;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_port_samples UInt32 AFTER nat_evidence_syns;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_ua_families Array(String) AFTER nat_evidence_inside_hosts;
ALTER TABLE ${DB}.nat ADD COLUMN nat_evidence_ja4_fingerprints Array(String) AFTER nat_evidence_ua_families;
ALTER TABLE ${DB}.nat ADD COLUMN nat_upnp_mappings_description Array(String) AFTER nat_upnp_mappings_internal_port;
ALTER TABLE ${DB}.nat ADD COLUMN nat_upnp_mappings_lease_seconds Array(UInt32) AFTER nat_upnp_mappings_description;
ALTER TABLE ${DB}.nat ADD COLUMN nat_port_forwards_proto Array(String) AFTER nat_port_forwards_port;
