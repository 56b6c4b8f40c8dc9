-- gpuvirt database schema, version 2: a host lease may hold MIG GPU instances, each a resource
-- key 'mig:<GPU address>/<placement start:size>' unique per host, next to devices, IOMMU groups and
-- vGPUs. Never edit a released script; add V3__... instead.

ALTER TABLE gpuvirt_host_lease_resource
  DROP CONSTRAINT gpuvirt_host_lease_resource_resource_check;
ALTER TABLE gpuvirt_host_lease_resource
  ADD CONSTRAINT gpuvirt_host_lease_resource_resource_check
  CHECK (resource ~ '^(pci|iommu-group|vgpu|mig):.+$');

INSERT INTO gpuvirt_schema_version (version, description)
  VALUES (2, 'MIG instances as host lease resources');
