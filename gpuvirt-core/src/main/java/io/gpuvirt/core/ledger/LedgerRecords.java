package io.gpuvirt.core.ledger;

import java.util.List;

/**
 * The ledger file's format, version 1, as plain records for Jackson. Kept apart from the API values
 * so the file can evolve by version (a newer format adds a record version and a migration here)
 * without changing them.
 *
 * <pre>{@code
 * {
 *   "format" : "gpuvirt-lease-ledger",
 *   "version" : 1,
 *   "leases" : [ {
 *     "owner" : "vm-42", "state" : "ALLOCATED", "createdAt" : "2026-01-05T10:00:00Z",
 *     "request" : { "count" : 1, "selector" : "10de:2901", "placement" : "SAME_NUMA_NODE",
 *                   "allowedForeign" : [ ] },
 *     "partition" : null,
 *     "reasons" : [ "NUMA node 0 holds the whole request: ..." ],
 *     "groups" : [ { "number" : 12, "devices" : [ {
 *       "address" : "0000:17:00.0", "role" : "REQUESTED", "id" : "10de:2901",
 *       "subsystem" : "10de:1999", "pciClass" : "0x030200", "numaNode" : 0,
 *       "originalDriver" : "nvidia", "physicalFunction" : null, "moduleId" : null,
 *       "bars" : [ { "index" : 0, "start" : 2348810240, "size" : 67108864, "is64Bit" : true,
 *                    "prefetchable" : false, "io" : false } ] } ] } ]
 *   } ]
 * }
 * }</pre>
 */
final class LedgerRecords {
  static final String FORMAT = "gpuvirt-lease-ledger";
  static final int VERSION = 1;

  private LedgerRecords() {}

  record LedgerFile(String format, int version, List<LeaseRecord> leases) {}

  record LeaseRecord(String owner, String state, String createdAt, RequestRecord request,
      Integer partition, List<String> reasons, List<GroupRecord> groups) {}

  record RequestRecord(int count, String selector, String placement,
      List<String> allowedForeign) {}

  record GroupRecord(int number, List<DeviceRecord> devices) {}

  record DeviceRecord(String address, String role, String id, String subsystem, String pciClass,
      int numaNode, String originalDriver, String physicalFunction, Integer moduleId,
      List<BarRecord> bars) {}

  record BarRecord(int index, long start, long size, boolean is64Bit, boolean prefetchable,
      boolean io) {}
}
