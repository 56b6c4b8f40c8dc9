package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.RecordedQemu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** iommufd only when the host and the probed QEMU both have it; legacy VFIO groups otherwise. */
final class IommufdTest {
  private static final HostIommufd HOST = new HostIommufd(true, true);

  /** Debian's QEMU 7.2 as recorded, with vfio-pci's iommufd property added (QEMU 9.0+). */
  private static QemuCapabilities withIommufd() {
    QemuCapabilities c = RecordedQemu.capabilities(QemuVersion.of(9, 2, 0));
    List<String> props = new ArrayList<>(c.deviceProperties(QemuCapabilities.VFIO_PCI)
        .orElseThrow());
    props.add("iommufd");
    return c.toBuilder().device(QemuCapabilities.VFIO_PCI, props).build();
  }

  private static QemuArgs build(QemuCapabilities caps, HostIommufd host) {
    return QemuCommandBuilder.forQemu(caps).memoryMiB(64 * 1024).devices(Hosts.b200Vm(2))
        .hostIommufd(host).build();
  }

  @Test
  void build_hostAndQemuWithIommufd_givesEveryDeviceThroughIt() {
    QemuArgs args = build(withIommufd(), HOST);

    assertTrue(String.join(" ", args.argv()).contains("-object iommufd,id=iommufd0")
        && args.devices().stream().allMatch(d -> d.option().get("iommufd")
            .equals(java.util.Optional.of("iommufd0"))), args.argv().toString());
  }

  @Test
  void build_qemuWithoutIommufd_usesLegacyGroupsAndSaysWhy() {
    QemuArgs args = build(RecordedQemu.capabilities(), HOST);

    assertTrue(!args.argv().contains("-object") && args.plan(Decision.Topic.VFIO).get(0)
        .reason().contains("has no 'iommufd' property"), args.describe().toString());
  }

  @Test
  void build_hostWithoutVfioCdevs_usesLegacyGroupsNamingWhatIsMissing() {
    QemuArgs args = build(withIommufd(), new HostIommufd(true, false));

    assertTrue(args.plan(Decision.Topic.VFIO).get(0).reason().contains("/sys/class/vfio-dev")
        && args.devices().stream().noneMatch(d -> d.option().get("iommufd").isPresent()),
        args.describe().toString());
  }

  @Test
  void build_withoutAHostCheck_usesLegacyGroups() {
    QemuArgs args = QemuCommandBuilder.forQemu(withIommufd()).memoryMiB(1024)
        .devices(Hosts.b200Vm(1)).build();

    assertTrue(args.plan(Decision.Topic.VFIO).get(0).choice().startsWith("legacy VFIO groups"),
        args.describe().toString());
  }

  @Test
  void probe_readsDevIommuAndTheVfioDevClass(@TempDir Path root) throws IOException {
    Files.createDirectories(root.resolve("dev"));
    Files.writeString(root.resolve("dev/iommu"), "");
    Files.createDirectories(root.resolve("sys/class/vfio-dev"));

    assertEquals(HOST, HostIommufd.probe(Sysfs.at(root)));
  }
}
