-- gpuvirt database schema, version 3: a fleet lease is released in one call to the database
-- (one round trip, no separate COMMIT) instead of five. Never edit a released script; add
-- V4__... instead.
--
-- Why a function and not one data-modifying CTE: under READ COMMITTED every part of one statement
-- reads the snapshot taken when the statement began. A statement that locks the host row and
-- recomputes the host's summary (free GPUs, free sizes) from its GPU and partition rows would
-- compute it from rows older than the lock when an allocator committed on that host in between,
-- and store a wrong summary. In a VOLATILE PL/pgSQL function each statement takes a new snapshot,
-- so the statements after the lock see everything committed before it, as the allocator does.

-- Releases p_owner's fleet lease: with p_epoch NULL whatever its epoch (the control plane), else
-- only while it is p_host's with that epoch (the host agent). Locks the host row first, as the
-- allocator does (no deadlock), then deletes the lease, frees its GPUs and partition and rewrites
-- the host's summary. Returns the lease released, one row per GPU (no row: there was none, or it
-- is no longer p_host's with p_epoch); SQLSTATE 40001 when the lease changed between the read
-- and the lock (run the call again).
CREATE FUNCTION gpuvirt_release(p_owner text, p_epoch bigint, p_host text)
RETURNS TABLE (r_owner text, r_host text, r_epoch bigint, r_gpu_count integer,
               r_partition_id integer, r_state text, r_created_at timestamptz, r_address text,
               r_pci_id text, r_model text, r_numa_node integer, r_iommu_group integer,
               r_module_id integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_host_id bigint;
  v_host    text;
  v_epoch   bigint;
BEGIN
  SELECT l.host_id, h.name, l.epoch INTO v_host_id, v_host, v_epoch
    FROM gpuvirt_fleet_lease l JOIN gpuvirt_host h ON h.host_id = l.host_id
   WHERE l.owner = p_owner;
  IF NOT FOUND OR (p_epoch IS NOT NULL AND (v_epoch <> p_epoch OR v_host <> p_host)) THEN
    RETURN;
  END IF;
  PERFORM 1 FROM gpuvirt_host WHERE host_id = v_host_id FOR UPDATE;
  RETURN QUERY
    WITH d AS (DELETE FROM gpuvirt_fleet_lease l WHERE l.owner = p_owner AND l.epoch = v_epoch
               RETURNING l.owner, l.epoch, l.gpu_count, l.partition_id, l.state, l.created_at),
         g AS (UPDATE gpuvirt_gpu g SET owner = NULL, epoch = NULL
               WHERE g.host_id = v_host_id AND g.owner = p_owner AND g.epoch = v_epoch
               RETURNING g.address, g.pci_id, g.model, g.numa_node, g.iommu_group, g.module_id),
         p AS (UPDATE gpuvirt_partition p SET owner = NULL, epoch = NULL
               WHERE p.host_id = v_host_id AND p.owner = p_owner AND p.epoch = v_epoch
               RETURNING 1)
    SELECT d.owner, v_host, d.epoch, d.gpu_count, d.partition_id, d.state, d.created_at,
           g.address, g.pci_id, g.model, g.numa_node, g.iommu_group, g.module_id
      FROM d LEFT JOIN g ON true
     ORDER BY g.address;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the fleet lease of % changed while releasing it', p_owner
      USING ERRCODE = '40001';
  END IF;
  -- the host's summary as the allocator computes it (io.gpuvirt.core.fleet.HostState.freeSizes):
  -- without partitions every count from 1 to its free GPUs; with partitions the sizes of the free
  -- partitions whose module ids are all published GPUs and none held by a lease (a leased GPU or
  -- a leased partition). Written out here, not as a function of its own: PL/pgSQL keeps the plan
  -- of this statement, PostgreSQL plans an SQL function's body at every call.
  UPDATE gpuvirt_host h
     SET free_gpus = (SELECT count(*) FROM gpuvirt_gpu g
                      WHERE g.host_id = v_host_id AND g.owner IS NULL),
         free_sizes = CASE
           WHEN NOT EXISTS (SELECT 1 FROM gpuvirt_partition p WHERE p.host_id = v_host_id)
           THEN ARRAY(SELECT generate_series(1, (SELECT count(*)::integer FROM gpuvirt_gpu g
                                                 WHERE g.host_id = v_host_id
                                                   AND g.owner IS NULL)))
           ELSE ARRAY(SELECT DISTINCT p.gpu_count FROM gpuvirt_partition p
                      WHERE p.host_id = v_host_id AND p.owner IS NULL
                        AND NOT EXISTS (SELECT 1 FROM unnest(p.module_ids) m WHERE NOT EXISTS (
                              SELECT 1 FROM gpuvirt_gpu g WHERE g.host_id = v_host_id
                                                           AND g.module_id = m))
                        AND NOT (p.module_ids && ARRAY(
                              SELECT g.module_id FROM gpuvirt_gpu g
                              WHERE g.host_id = v_host_id AND g.owner IS NOT NULL
                                AND g.module_id IS NOT NULL
                              UNION ALL
                              SELECT unnest(q.module_ids) FROM gpuvirt_partition q
                              WHERE q.host_id = v_host_id AND q.owner IS NOT NULL))
                      ORDER BY 1)
         END
   WHERE h.host_id = v_host_id;
END
$$;

INSERT INTO gpuvirt_schema_version (version, description)
  VALUES (3, 'fleet lease release in one call');
