package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.host.SysfsFormatException;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyJson;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * IOMMU group members that are not PCI functions (a mediated device's own group, a platform device
 * beside a GPU on an Arm host): scanned and listed, never a crash, and a group holding one beside a
 * GPU is not handed to a VM. Malformed members stay errors.
 */
final class NonPciGroupMemberTest {
  private static final PciAddress GPU = PciAddress.parse("0000:17:00.0");

  @TempDir Path state;

  private static IommuGroup groupOf(Topology t, PciAddress a) {
    int n = t.device(a).orElseThrow().iommuGroup().getAsInt();
    return t.iommuGroups().stream().filter(g -> g.number() == n).findFirst().orElseThrow();
  }

  /** Adds a platform device to the GPU's group, as an SMMU-attached controller is on Arm. */
  private static void addPlatformMember(SimulatedHost host, String name) throws IOException {
    Path device = host.root().resolve("sys/devices/platform").resolve(name);
    Files.createDirectories(device);
    int group = TopologyScanner.scan(host.sysfs()).device(GPU).orElseThrow().iommuGroup()
        .getAsInt();
    Path link = host.root().resolve("sys/kernel/iommu_groups/" + group + "/devices/" + name);
    Files.createSymbolicLink(link, link.getParent().relativize(device));
  }

  @Test
  void mediatedDevice_isScannedAsTheNonPciMemberOfItsOwnGroupAndRoundTrips() {
    try (SimulatedHost host = SimulatedHost.t4Mdev()) {
      UUID uuid = VgpuProvisioner.mdevUuid("vm-1");
      VgpuDevices.on(host.sysfs(), new FakeSriovManage(host.sysfs())).createMdev(
          PciAddress.parse("0000:3b:00.0"), VgpuTypeCatalogue.t4().require("T4-4Q"), uuid);
      Topology t = TopologyScanner.scan(host.sysfs());
      List<IommuGroup> mdevGroups = t.iommuGroups().stream()
          .filter(g -> !g.nonPciMembers().isEmpty()).toList();
      assertEquals(List.of(1, List.of(), List.of(uuid.toString())), List.of(mdevGroups.size(),
          mdevGroups.get(0).members(), mdevGroups.get(0).nonPciMembers()));
      String json = TopologyJson.toJson(t);
      assertEquals(json, TopologyJson.toJson(TopologyJson.fromJson(json)));
      assertTrue(json.contains("\"nonPciMembers\" : [ \"" + uuid + "\" ]"), json);
    }
  }

  @Test
  void platformDeviceInAGpusGroup_isListedAndTheGroupIsRefusedWithTheReason() throws IOException {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      addPlatformMember(host, "arm-smmu-v3.0.auto");
      Topology t = TopologyScanner.scan(host.sysfs());
      assertEquals(List.of("arm-smmu-v3.0.auto"), groupOf(t, GPU).nonPciMembers());
      AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
          () -> LeaseLedger.open(state).allocate(AllocationRequest.builder("vm-1")
              .selector(DeviceSelector.addresses(List.of(GPU))).build(), t));
      assertTrue(e.getMessage().contains("also holds [arm-smmu-v3.0.auto], which are not PCI "
          + "functions"), e.getMessage());
      String lspci = Tools.lspci(host, "-n", "-s", "17:00.0");
      assertTrue(lspci.contains("10de:"), lspci);
    }
  }

  @Test
  void memberThatIsNoDeviceLink_isAFormatError() throws IOException {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      int group = TopologyScanner.scan(host.sysfs()).device(GPU).orElseThrow().iommuGroup()
          .getAsInt();
      Files.writeString(host.root().resolve("sys/kernel/iommu_groups/" + group
          + "/devices/garbage"), "x");
      SysfsFormatException e = assertThrows(SysfsFormatException.class,
          () -> TopologyScanner.scan(host.sysfs()));
      assertTrue(e.getMessage().contains("garbage"), e.getMessage());
    }
  }

  @Test
  void malformedPciMemberName_staysAFormatError() throws IOException {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      int group = TopologyScanner.scan(host.sysfs()).device(GPU).orElseThrow().iommuGroup()
          .getAsInt();
      Path link = host.root().resolve("sys/kernel/iommu_groups/" + group
          + "/devices/0000:17:00.0X");
      Files.createSymbolicLink(link, Path.of("../../../../devices/platform"));
      assertThrows(SysfsFormatException.class, () -> TopologyScanner.scan(host.sysfs()));
    }
  }
}
