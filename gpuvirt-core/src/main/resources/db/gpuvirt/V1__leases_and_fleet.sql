-- gpuvirt database schema, version 1 (PostgreSQL 12 or later).
-- Applied by io.gpuvirt.core.fleet.JdbcSchema.migrate(DataSource), or by the platform's own
-- migration tool: the file names follow Flyway's (V<version>__<description>.sql) and each script
-- records its version in gpuvirt_schema_version, which gpuvirt checks before it uses the tables.
-- Never edit a released script; add V2__... instead.

CREATE TABLE gpuvirt_schema_version (
  version     integer PRIMARY KEY CHECK (version > 0),
  description text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per host: its name, heartbeat, and a summary of what it can still give (kept by the
-- allocator under the row's lock, so a candidate host is found without reading every GPU).
CREATE TABLE gpuvirt_host (
  host_id            bigserial PRIMARY KEY,
  name               text NOT NULL UNIQUE
                     CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$'),
  registered_at      timestamptz NOT NULL DEFAULT now(),
  heartbeat_at       timestamptz,
  heartbeat_deadline timestamptz,
  lost               boolean NOT NULL DEFAULT false,
  inventory_digest   text NOT NULL DEFAULT '',
  free_gpus          integer NOT NULL DEFAULT 0 CHECK (free_gpus >= 0),
  -- the request sizes the host can serve now (a free partition of that size, or as many free GPUs)
  free_sizes         integer[] NOT NULL DEFAULT '{}',
  CHECK (heartbeat_deadline IS NULL OR heartbeat_deadline >= heartbeat_at)
);

-- One row per GPU a host published. owner/epoch set together: the fleet lease holding it.
CREATE TABLE gpuvirt_gpu (
  host_id     bigint NOT NULL REFERENCES gpuvirt_host ON DELETE RESTRICT,
  address     text NOT NULL CHECK (address ~ '^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$'),
  pci_id      text NOT NULL CHECK (pci_id ~ '^[0-9a-f]{4}:[0-9a-f]{4}$'),
  model       text NOT NULL,
  numa_node   integer NOT NULL CHECK (numa_node >= -1),
  iommu_group integer NOT NULL CHECK (iommu_group >= 0),
  module_id   integer CHECK (module_id >= 0),
  owner       text,
  epoch       bigint,
  PRIMARY KEY (host_id, address),
  UNIQUE (host_id, iommu_group) DEFERRABLE INITIALLY DEFERRED,
  UNIQUE (host_id, module_id) DEFERRABLE INITIALLY DEFERRED,
  CHECK ((owner IS NULL) = (epoch IS NULL))
);

-- One row per Fabric Manager partition of a shared-NVSwitch host, by GPU module id.
CREATE TABLE gpuvirt_partition (
  host_id      bigint NOT NULL REFERENCES gpuvirt_host ON DELETE RESTRICT,
  partition_id integer NOT NULL CHECK (partition_id >= 0),
  gpu_count    integer NOT NULL CHECK (gpu_count > 0),
  module_ids   integer[] NOT NULL CHECK (cardinality(module_ids) = gpu_count),
  owner        text,
  epoch        bigint,
  PRIMARY KEY (host_id, partition_id),
  CHECK ((owner IS NULL) = (epoch IS NULL))
);

-- Fencing tokens: every fleet lease gets the next one; a lease that moves gets a new one.
CREATE SEQUENCE gpuvirt_lease_epoch;

-- One row per fleet lease: which host holds it, with which epoch, and how far the host agent got.
CREATE TABLE gpuvirt_fleet_lease (
  owner        text PRIMARY KEY CHECK (owner ~ '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$'),
  host_id      bigint NOT NULL REFERENCES gpuvirt_host ON DELETE RESTRICT,
  epoch        bigint NOT NULL UNIQUE CHECK (epoch > 0),
  gpu_count    integer NOT NULL CHECK (gpu_count > 0),
  partition_id integer,
  state        text NOT NULL CHECK (state IN ('ASSIGNED', 'PROVISIONED', 'FAILED')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (host_id, partition_id) REFERENCES gpuvirt_partition ON DELETE RESTRICT
);
CREATE INDEX gpuvirt_fleet_lease_host ON gpuvirt_fleet_lease (host_id);
-- a GPU or partition is held only by a fleet lease on its own host with its epoch
ALTER TABLE gpuvirt_fleet_lease ADD UNIQUE (owner, host_id, epoch);
ALTER TABLE gpuvirt_gpu ADD FOREIGN KEY (owner, host_id, epoch)
  REFERENCES gpuvirt_fleet_lease (owner, host_id, epoch) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE gpuvirt_partition ADD FOREIGN KEY (owner, host_id, epoch)
  REFERENCES gpuvirt_fleet_lease (owner, host_id, epoch) DEFERRABLE INITIALLY DEFERRED;

-- A host's own lease ledger (io.gpuvirt.core.fleet.JdbcLeaseStore): each lease in the record form
-- of the JSON ledger file, and one row per resource it holds, unique per host.
CREATE TABLE gpuvirt_host_lease (
  host_id bigint NOT NULL REFERENCES gpuvirt_host ON DELETE RESTRICT,
  owner   text NOT NULL,
  lease   jsonb NOT NULL,
  PRIMARY KEY (host_id, owner)
);
CREATE TABLE gpuvirt_host_lease_resource (
  host_id  bigint NOT NULL,
  resource text NOT NULL CHECK (resource ~ '^(pci|iommu-group|vgpu):.+$'),
  owner    text NOT NULL,
  PRIMARY KEY (host_id, resource),
  FOREIGN KEY (host_id, owner) REFERENCES gpuvirt_host_lease ON DELETE CASCADE
);

INSERT INTO gpuvirt_schema_version (version, description)
  VALUES (1, 'hosts, GPUs, partitions, fleet leases with epochs, host lease ledgers');
