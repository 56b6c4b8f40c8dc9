package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Sysfs;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

final class TopologyJsonTest {
  @TempDir Path root;

  private Topology hgx() {
    Hosts.hgxSlice(new SysfsTree(root));
    return TopologyScanner.scan(Sysfs.at(root));
  }

  private static List<Object> contents(Topology t) {
    return List.of(t.source(), t.devices(), t.iommuGroups());
  }

  @Test
  void fromJson_ofToJson_holdsTheSameTopology() {
    Topology t = hgx();
    assertEquals(contents(t), contents(TopologyJson.fromJson(TopologyJson.toJson(t))));
  }

  @Test
  void fromJson_ofEveryOptionalFieldAndExtremeValues_holdsTheSameTopology() {
    PciDevice full = PciDevice.builder(PciAddress.parse("7fffffff:ff:1f.7"))
        .id(new PciId(0xffff, 0)).subsystem(new PciId(0x10de, 0x1999))
        .pciClass(new PciClass(0xffffff)).revision(0xff).driver("vfio-pci")
        .driverOverride("vfio-pci").iommuGroup(Integer.MAX_VALUE).numaNode(Integer.MAX_VALUE)
        .addBar(new Bar(0, 0xfff0000000000000L, 1L << 52, true, true, false))
        .addBar(new Bar(5, 0, 1, false, false, true))
        .parent(PciAddress.parse("7fffffff:fe:00.0")).rootBus("7fffffff:00")
        .busRange(new BusRange(0, 0xff)).portType(PciePortType.ROOT_COMPLEX_EVENT_COLLECTOR)
        .sriov(new Sriov(3, 1, List.of(PciAddress.parse("0000:00:00.1")))).resettable(true)
        .label("slot \"7\" \u00e9").build();
    Topology t = new Topology("memory \n", List.of(full),
        List.of(new IommuGroup(Integer.MAX_VALUE, List.of(full.address()))));
    assertEquals(contents(t), contents(TopologyJson.fromJson(TopologyJson.toJson(t))));
  }

  @Test
  void toJson_absentValues_areLeftOutNotNull() {
    String json = TopologyJson.toJson(new Topology("memory",
        List.of(PciDevice.builder(PciAddress.parse("0000:00:02.0")).build()), List.of()));
    assertFalse(json.contains("null") || json.contains("\"driver\"") || json.contains("\"parent\"")
        || json.contains("present") || json.contains("empty"), json);
  }

  @Test
  void toJson_device_writesAddressesIdsAndClassesAsLinuxPrintsThem() {
    String json = TopologyJson.toJson(hgx());
    assertTrue(json.contains("\"address\" : \"0000:17:00.0\",\n    \"id\" : \"10de:2901\",\n"
        + "    \"subsystem\" : \"10de:1999\",\n    \"class\" : \"0x030200\",\n"
        + "    \"revision\" : \"0xa1\""), json);
  }

  @Test
  void toJson_barStart_isAHexString() {
    assertTrue(TopologyJson.toJson(hgx()).contains("\"start\" : \"0x220000000000\",\n"
        + "      \"size\" : 274877906944,"));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "not json|not JSON",
      "[]|top level: expected a JSON object",
      "{}|format: expected a value (the field is missing)",
      "{\"format\":2}|format: expected format 1",
      "{\"format\":1,\"source\":\"s\",\"devices\":{},\"iommuGroups\":[]}|devices: expected an array",
      "{\"format\":1,\"source\":\"s\",\"devices\":[{\"address\":\"0000:17:00.0\\n\"}],"
          + "\"iommuGroups\":[]}|devices[0].address: expected a PCI address",
      "{\"format\":1,\"source\":\"s\",\"devices\":[],\"iommuGroups\":[{\"number\":-1,"
          + "\"members\":[]}]}|iommuGroups[0]: expected a valid value",
      "{\"format\":1,\"source\":\"s\",\"devices\":[],\"iommuGroups\":[]} {}|not JSON",
      "{\"format\":1,\"format\":1}|not JSON"})
  void fromJson_badDocument_namesTheField(String json, String expected) {
    GpuvirtException e = assertThrows(GpuvirtException.class, () -> TopologyJson.fromJson(json));
    assertTrue(e.getMessage().contains(expected.equals("not JSON") ? "invalid topology JSON: "
        : "invalid topology JSON at " + expected), e.getMessage());
  }

  @Test
  void fromJson_badBarSize_namesTheBar() {
    String json = TopologyJson.toJson(hgx()).replace("\"size\" : 67108864", "\"size\" : \"64M\"");
    GpuvirtException e = assertThrows(GpuvirtException.class, () -> TopologyJson.fromJson(json));
    assertTrue(e.getMessage().contains("devices[10].bars[0].size: expected a whole number, found"
        + " \"64M\""), e.getMessage());
  }

  @Test
  void fromJson_nullForAnOptionalField_readsAsAbsent() {
    String json = "{\"format\":1,\"source\":\"s\",\"iommuGroups\":[],\"devices\":[{"
        + "\"address\":\"0000:00:02.0\",\"id\":\"8086:1234\",\"subsystem\":\"0000:0000\","
        + "\"class\":\"0x088000\",\"revision\":\"0x00\",\"driver\":null,\"numaNode\":-1,"
        + "\"bars\":[],\"rootBus\":\"0000:00\",\"resettable\":false}]}";
    assertEquals(java.util.Optional.empty(),
        TopologyJson.fromJson(json).require(PciAddress.parse("0000:00:02.0")).driver());
  }
}
