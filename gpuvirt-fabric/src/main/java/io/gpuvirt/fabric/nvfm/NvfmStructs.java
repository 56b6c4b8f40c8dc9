package io.gpuvirt.fabric.nvfm;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/**
 * The libnvfm structs, field for field as in {@code nv_fm_types.h} (all members {@code unsigned int}
 * or {@code char[]}, natural alignment, no padding), and their version words
 * ({@code sizeof(type) | ver << 24}). The sizes are checked in the tests against the x86_64 header
 * sizes: 268, 272, 16, 128, 2060, 131852, 264, 372, 10428, 72 and 4616 bytes.
 *
 * <p>The classes are public only because JNA instantiates them reflectively; the package is not
 * exported.
 */
final class NvfmStructs {
  static final int MAX_STR_LENGTH = 256;
  static final int UUID_BUFFER_SIZE = 80;
  static final int PCI_BUS_ID_BUFFER_SIZE = 32;
  static final int MAX_NUM_GPUS = 16;
  static final int MAX_NUM_NVSWITCHES = 12;
  static final int MAX_FABRIC_PARTITIONS = 64;
  static final int MAX_NUM_NVLINK_PORTS = 64;

  /** {@code nvFmApiAddrTypes}: INET. */
  static final int ADDR_TYPE_INET = 1;
  /** {@code nvFmApiAddrTypes}: UNIX. */
  static final int ADDR_TYPE_UNIX = 2;

  /** {@code fmConnectParams_version} of 610-series headers (v2, 272 bytes). */
  static final int CONNECT_PARAMS_V2_VERSION = 0x02000110;
  /** {@code MAKE_FM_PARAM_VERSION(fmConnectParams_v1, 1)}, what 535-series headers use. */
  static final int CONNECT_PARAMS_V1_VERSION = 0x0100010C;
  /** {@code fmFabricPartitionList_version}: the "version2" macro passes ver = 1. */
  static final int PARTITION_LIST_VERSION = 0x0102030C;
  static final int ACTIVATED_LIST_VERSION = 0x01000108;
  static final int NVLINK_FAILED_DEVICES_VERSION = 0x010028BC;
  static final int UNSUPPORTED_LIST_VERSION = 0x01001208;

  static final int PARTITION_GPU_INFO_SIZE = 128;
  static final int PARTITION_INFO_SIZE = 2060;

  private NvfmStructs() {}

  /** {@code MAKE_FM_PARAM_VERSION(type, ver)}. */
  static int version(Structure struct, int ver) {
    return struct.size() | (ver << 24);
  }

  /** {@code fmConnectParams_v1}. */
  @FieldOrder({"version", "addressInfo", "timeoutMs", "addressIsUnixSocket"})
  public static class ConnectParamsV1 extends Structure {
    public int version;
    public byte[] addressInfo = new byte[MAX_STR_LENGTH];
    public int timeoutMs;
    public int addressIsUnixSocket;
  }

  /** {@code fmConnectParams_v2}: v1 plus {@code addressType}. */
  @FieldOrder({"version", "addressInfo", "timeoutMs", "addressIsUnixSocket", "addressType"})
  public static class ConnectParamsV2 extends Structure {
    public int version;
    public byte[] addressInfo = new byte[MAX_STR_LENGTH];
    public int timeoutMs;
    public int addressIsUnixSocket;
    public int addressType;
  }

  /** {@code fmPciDevice_t}. */
  @FieldOrder({"domain", "bus", "device", "function"})
  public static class PciDevice extends Structure {
    public int domain;
    public int bus;
    public int device;
    public int function;
  }

  /** {@code fmFabricPartitionGpuInfo_t}. */
  @FieldOrder({"physicalId", "uuid", "pciBusId", "numNvLinksAvailable", "maxNumNvLinks",
      "nvlinkLineRateMBps"})
  public static class PartitionGpuInfo extends Structure {
    public PartitionGpuInfo() {}

    PartitionGpuInfo(Pointer memory) {
      super(memory);
    }

    public int physicalId;
    public byte[] uuid = new byte[UUID_BUFFER_SIZE];
    public byte[] pciBusId = new byte[PCI_BUS_ID_BUFFER_SIZE];
    public int numNvLinksAvailable;
    public int maxNumNvLinks;
    public int nvlinkLineRateMBps;
  }

  /** {@code fmFabricPartitionInfo_t}. */
  @FieldOrder({"partitionId", "isActive", "numGpus", "gpuInfo"})
  public static class PartitionInfo extends Structure {
    public PartitionInfo() {}

    PartitionInfo(Pointer memory) {
      super(memory);
    }

    public int partitionId;
    public int isActive;
    public int numGpus;
    /** Created by JNA on a full read; {@link #gpu(int)} reads one entry without the others. */
    public PartitionGpuInfo[] gpuInfo = new PartitionGpuInfo[MAX_NUM_GPUS];

    /** Entry {@code i} of {@code gpuInfo}, read from this struct's memory. */
    PartitionGpuInfo gpu(int i) {
      PartitionGpuInfo g = new PartitionGpuInfo(getPointer().share(fieldOffset("gpuInfo")
          + (long) i * PARTITION_GPU_INFO_SIZE));
      g.read();
      return g;
    }

    /** Reads the scalar fields only. */
    void readHeader() {
      readField("partitionId");
      readField("isActive");
      readField("numGpus");
    }
  }

  /** {@code fmFabricPartitionList_v2}. */
  @FieldOrder({"version", "numPartitions", "maxNumPartitions", "partitionInfo"})
  public static class PartitionList extends Structure {
    public int version;
    public int numPartitions;
    public int maxNumPartitions;
    /** Created by JNA on a full read; {@link #partition(int)} reads one entry on its own. */
    public PartitionInfo[] partitionInfo = new PartitionInfo[MAX_FABRIC_PARTITIONS];

    /** Entry {@code i} of {@code partitionInfo} over this struct's memory, header read. */
    PartitionInfo partition(int i) {
      PartitionInfo p = new PartitionInfo(getPointer().share(fieldOffset("partitionInfo")
          + (long) i * PARTITION_INFO_SIZE));
      p.readHeader();
      return p;
    }
  }

  /** {@code fmActivatedFabricPartitionList_v1}. */
  @FieldOrder({"version", "numPartitions", "partitionIds"})
  public static class ActivatedPartitionList extends Structure {
    public int version;
    public int numPartitions;
    public int[] partitionIds = new int[MAX_FABRIC_PARTITIONS];
  }

  /** {@code fmNvlinkFailedDeviceInfo_t}. */
  @FieldOrder({"uuid", "pciBusId", "numPorts", "portNum"})
  public static class NvlinkFailedDeviceInfo extends Structure {
    public byte[] uuid = new byte[UUID_BUFFER_SIZE];
    public byte[] pciBusId = new byte[PCI_BUS_ID_BUFFER_SIZE];
    public int numPorts;
    public int[] portNum = new int[MAX_NUM_NVLINK_PORTS];
  }

  /** {@code fmNvlinkFailedDevices_v1}. */
  @FieldOrder({"version", "numGpus", "numSwitches", "gpuInfo", "switchInfo"})
  public static class NvlinkFailedDevices extends Structure {
    public int version;
    public int numGpus;
    public int numSwitches;
    public NvlinkFailedDeviceInfo[] gpuInfo = new NvlinkFailedDeviceInfo[MAX_NUM_GPUS];
    public NvlinkFailedDeviceInfo[] switchInfo = new NvlinkFailedDeviceInfo[MAX_NUM_NVSWITCHES];

    {
      for (int i = 0; i < gpuInfo.length; i++) {
        gpuInfo[i] = new NvlinkFailedDeviceInfo();
      }
      for (int i = 0; i < switchInfo.length; i++) {
        switchInfo[i] = new NvlinkFailedDeviceInfo();
      }
    }
  }

  /** {@code fmUnsupportedFabricPartitionInfo_t}. */
  @FieldOrder({"partitionId", "numGpus", "gpuPhysicalIds"})
  public static class UnsupportedPartitionInfo extends Structure {
    public int partitionId;
    public int numGpus;
    public int[] gpuPhysicalIds = new int[MAX_NUM_GPUS];
  }

  /** {@code fmUnsupportedFabricPartitionList_v1}. */
  @FieldOrder({"version", "numPartitions", "partitionInfo"})
  public static class UnsupportedPartitionList extends Structure {
    public int version;
    public int numPartitions;
    public UnsupportedPartitionInfo[] partitionInfo =
        new UnsupportedPartitionInfo[MAX_FABRIC_PARTITIONS];

    {
      for (int i = 0; i < partitionInfo.length; i++) {
        partitionInfo[i] = new UnsupportedPartitionInfo();
      }
    }
  }
}
