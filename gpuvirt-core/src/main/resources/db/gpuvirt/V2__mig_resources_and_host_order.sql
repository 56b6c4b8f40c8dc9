-- gpuvirt database schema, version 2: a host lease may hold MIG GPU instances, each a resource
-- key 'mig:<GPU address>/<placement start:size>' unique per host, next to devices, IOMMU groups and
-- vGPUs; and the allocator finds the fullest live host through an index instead of sorting every
-- host. Never edit a released script; add V3__... instead.

ALTER TABLE gpuvirt_host_lease_resource
  DROP CONSTRAINT gpuvirt_host_lease_resource_resource_check;
ALTER TABLE gpuvirt_host_lease_resource
  ADD CONSTRAINT gpuvirt_host_lease_resource_resource_check
  CHECK (resource ~ '^(pci|iommu-group|vgpu|mig):.+$');

-- the allocator's candidate order: fullest first, ties by id (FOR UPDATE SKIP LOCKED walks it)
CREATE INDEX gpuvirt_host_fullest ON gpuvirt_host (free_gpus, host_id) WHERE NOT lost;

INSERT INTO gpuvirt_schema_version (version, description)
  VALUES (2, 'MIG instances as host lease resources');
