package io.gpuvirt.fabric.nvfm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.jna.Structure;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The JNA layouts against the sizes and offsets of the x86_64 libnvfm headers. */
final class NvfmStructsTest {

  static Stream<Arguments> sizes() {
    return Stream.of(
        Arguments.of("fmConnectParams_v1", (Supplier<Structure>) NvfmStructs.ConnectParamsV1::new, 268),
        Arguments.of("fmConnectParams_v2", (Supplier<Structure>) NvfmStructs.ConnectParamsV2::new, 272),
        Arguments.of("fmPciDevice_t", (Supplier<Structure>) NvfmStructs.PciDevice::new, 16),
        Arguments.of("fmFabricPartitionGpuInfo_t",
            (Supplier<Structure>) NvfmStructs.PartitionGpuInfo::new, 128),
        Arguments.of("fmFabricPartitionInfo_t",
            (Supplier<Structure>) NvfmStructs.PartitionInfo::new, 2060),
        Arguments.of("fmFabricPartitionList_v2",
            (Supplier<Structure>) NvfmStructs.PartitionList::new, 131852),
        Arguments.of("fmActivatedFabricPartitionList_v1",
            (Supplier<Structure>) NvfmStructs.ActivatedPartitionList::new, 264),
        Arguments.of("fmNvlinkFailedDeviceInfo_t",
            (Supplier<Structure>) NvfmStructs.NvlinkFailedDeviceInfo::new, 372),
        Arguments.of("fmNvlinkFailedDevices_v1",
            (Supplier<Structure>) NvfmStructs.NvlinkFailedDevices::new, 10428),
        Arguments.of("fmUnsupportedFabricPartitionInfo_t",
            (Supplier<Structure>) NvfmStructs.UnsupportedPartitionInfo::new, 72),
        Arguments.of("fmUnsupportedFabricPartitionList_v1",
            (Supplier<Structure>) NvfmStructs.UnsupportedPartitionList::new, 4616));
  }

  @ParameterizedTest(name = "{0} is {2} bytes")
  @MethodSource("sizes")
  void size_matchesTheHeader(String name, Supplier<Structure> struct, int bytes) {
    assertEquals(bytes, struct.get().size(), name);
  }

  static Stream<Arguments> versions() {
    return Stream.of(
        Arguments.of(NvfmStructs.CONNECT_PARAMS_V2_VERSION, new NvfmStructs.ConnectParamsV2(), 2),
        Arguments.of(NvfmStructs.CONNECT_PARAMS_V1_VERSION, new NvfmStructs.ConnectParamsV1(), 1),
        Arguments.of(NvfmStructs.PARTITION_LIST_VERSION, new NvfmStructs.PartitionList(), 1),
        Arguments.of(NvfmStructs.ACTIVATED_LIST_VERSION,
            new NvfmStructs.ActivatedPartitionList(), 1),
        Arguments.of(NvfmStructs.NVLINK_FAILED_DEVICES_VERSION,
            new NvfmStructs.NvlinkFailedDevices(), 1),
        Arguments.of(NvfmStructs.UNSUPPORTED_LIST_VERSION,
            new NvfmStructs.UnsupportedPartitionList(), 1));
  }

  @ParameterizedTest(name = "0x{0}")
  @MethodSource("versions")
  void versionWord_isSizeOrVersionShifted(int word, Structure struct, int version) {
    assertEquals(word, NvfmStructs.version(struct, version));
  }

  @Test
  void versionWords_areTheHeaderValues() {
    assertEquals(java.util.List.of(33554704, 16777484, 16909068, 16777480, 16787644, 16781832),
        java.util.List.of(NvfmStructs.CONNECT_PARAMS_V2_VERSION,
            NvfmStructs.CONNECT_PARAMS_V1_VERSION, NvfmStructs.PARTITION_LIST_VERSION,
            NvfmStructs.ACTIVATED_LIST_VERSION, NvfmStructs.NVLINK_FAILED_DEVICES_VERSION,
            NvfmStructs.UNSUPPORTED_LIST_VERSION));
  }

  /** The GPU info struct with its field offsets exposed (the field order is inherited). */
  public static final class GpuInfoOffsets extends NvfmStructs.PartitionGpuInfo {
    int offsetOf(String field) {
      return fieldOffset(field);
    }
  }

  @Test
  void partitionGpuInfo_fieldOffsets_matchTheHeader() {
    GpuInfoOffsets s = new GpuInfoOffsets();
    assertEquals(java.util.List.of(0, 4, 84, 116, 120, 124), Stream.of("physicalId", "uuid",
        "pciBusId", "numNvLinksAvailable", "maxNumNvLinks", "nvlinkLineRateMBps")
        .map(s::offsetOf).toList());
  }

  @Test
  void sizeConstants_matchTheStructs() {
    assertEquals(java.util.List.of(NvfmStructs.PARTITION_GPU_INFO_SIZE,
        NvfmStructs.PARTITION_INFO_SIZE), java.util.List.of(new NvfmStructs.PartitionGpuInfo()
        .size(), new NvfmStructs.PartitionInfo().size()));
  }
}
