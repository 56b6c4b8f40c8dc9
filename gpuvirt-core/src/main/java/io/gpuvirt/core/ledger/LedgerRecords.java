package io.gpuvirt.core.ledger;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * The ledger file's format, version 2, as plain records for Jackson. Kept apart from the API values
 * so the file can evolve by version without changing them. Version 2 added, per lease, its
 * {@code origin} and {@code expiresAt} and, per device, {@code originalOverride}, {@code vfioDriver} and {@code reset};
 * a version 1 file is read by filling those in ({@code PROVISION}, unknown, unknown, none: see
 * {@link LedgerCodec}) and is rewritten as version 2 on the next change, its old bytes kept as
 * {@code leases.json.v1.bak}.
 *
 * <pre>{@code
 * {
 *   "format" : "gpuvirt-lease-ledger",
 *   "version" : 1,
 *   "leases" : [ {
 *     "owner" : "vm-42", "origin" : "PROVISION", "state" : "BOUND",
 *   "createdAt" : "2026-01-05T10:00:00Z", "expiresAt" : null,
 *     "request" : { "count" : 1, "selector" : "10de:2901", "placement" : "SAME_NUMA_NODE",
 *                   "allowedForeign" : [ ] },
 *     "partition" : null,
 *     "reasons" : [ "NUMA node 0 holds the whole request: ..." ],
 *     "groups" : [ { "number" : 12, "devices" : [ {
 *       "address" : "0000:17:00.0", "role" : "REQUESTED", "id" : "10de:2901",
 *       "subsystem" : "10de:1999", "pciClass" : "0x030200", "numaNode" : 0,
 *       "originalDriver" : "nvidia", "originalOverride" : null, "vfioDriver" : "vfio-pci",
 *       "reset" : { "driver" : "nvidia", "methods" : [ "flr", "bus" ] },
 *       "physicalFunction" : null, "moduleId" : null,
 *       "bars" : [ { "index" : 0, "start" : 2348810240, "size" : 67108864, "is64Bit" : true,
 *                    "prefetchable" : false, "io" : false } ] } ] } ]
 *   } ]
 * }
 * }</pre>
 */
final class LedgerRecords {
  static final String FORMAT = "gpuvirt-lease-ledger";
  static final int VERSION = 2;

  private LedgerRecords() {}

  /**
   * The file. {@code generation} (added without a version bump) numbers the snapshot: each
   * rewrite of the file increments it, and the journal beside it ({@code leases.journal}) names
   * the generation it extends; absent (0) in files written before the journal. An older gpuvirt
   * refuses a file that has it (unknown property) rather than read it without its journal.
   */
  record LedgerFile(String format, int version,
      @JsonInclude(JsonInclude.Include.NON_NULL) Long generation, List<LeaseRecord> leases) {}

  /**
   * One record of the journal: its sequence number in the journal (from 1), the leases it puts
   * (new or changed, whole) and the owners whose leases it removes.
   */
  record JournalRecord(long seq, List<LeaseRecord> put, List<String> remove) {}

  /**
   * One lease. {@code vgpus} (vGPU leases, added without a version bump) is left out of the file
   * when empty, so a ledger without vGPUs is byte for byte what earlier versions wrote, and read
   * as empty when absent; an older gpuvirt refuses a file that has vGPUs (unknown property)
   * rather than lose them.
   */
  record LeaseRecord(String owner, String origin, String state, String createdAt,
      String expiresAt, RequestRecord request, Integer partition, List<String> reasons,
      List<GroupRecord> groups,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) List<VgpuRecord> vgpus,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) List<MigRecord> migs) {}

  /**
   * One MIG GPU instance of a lease ({@code migs}, added like {@code vgpus}: left out when empty,
   * read as empty when absent, refused by an older gpuvirt rather than lost): the GPU, the
   * profile, the placement and the driver's GPU-instance id once created (null before).
   */
  record MigRecord(String gpu, String profile, int profileId, String placement,
      Integer gpuInstanceId) {}

  /**
   * One vGPU of a lease: the PF, the VF or the mdev UUID (one of them null), and the whole type,
   * so teardown can check the VF still carries it without the catalogue.
   */
  record VgpuRecord(String pf, String vf, String mdev, int typeId, String typeName,
      String series, long framebufferMib, int maxInstances, boolean migBacked) {}

  record RequestRecord(int count, String selector, String placement,
      List<String> allowedForeign) {}

  record GroupRecord(int number, List<DeviceRecord> devices) {}

  record DeviceRecord(String address, String role, String id, String subsystem, String pciClass,
      int numaNode, String originalDriver, String originalOverride, String vfioDriver,
      ResetRecord reset, String physicalFunction, Integer moduleId, List<BarRecord> bars) {}

  record ResetRecord(String driver, List<String> methods) {}

  record BarRecord(int index, long start, long size, boolean is64Bit, boolean prefetchable,
      boolean io) {}
}
