package io.gpuvirt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.qemu.command.LeasePassthrough;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A host whose GPU sits behind Intel VMD in PCI domain {@code 10000} (five hex digits), end to end:
 * scan, pciutils' lspci on the tree, vfio-pci binding through sysfs, the QEMU argv and the lease
 * file read back.
 */
final class VmdDomainTest {
  private static final PciAddress GPU = PciAddress.parse("10000:01:00.0");

  @Test
  void scan_vmdHost_readsTheFiveDigitDomainAndItsGroups() {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.vmd())) {
      Topology t = TopologyScanner.scan(host.sysfs());
      PciDevice gpu = t.require(GPU);
      assertEquals(0x10000, gpu.address().domain());
      assertEquals("10000:01:00.0", gpu.address().toString());
      assertEquals(List.of(GPU), t.groupOf(GPU).orElseThrow().members());
      assertTrue(t.rootBuses().contains("10000:00"), t.rootBuses().toString());
      assertEquals(List.of(GPU), t.gpus().stream().map(PciDevice::address).toList());
    }
  }

  @Test
  void lspci_readsTheVmdDomainFromTheTree() throws Exception {
    Path lspci = Path.of("/usr/bin/lspci");
    Assumptions.assumeTrue(Files.isExecutable(lspci), "pciutils' lspci is not installed");
    try (SimulatedHost host = SimulatedHost.create(HostProfile.vmd())) {
      List<String> argv = new ArrayList<>(List.of(lspci.toString(), "-A", "linux-sysfs", "-O",
          "sysfs.path=" + host.root().resolve("sys/bus/pci"), "-D", "-nn"));
      Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      assertTrue(out.contains("10000:01:00.0 3D controller [0302]: NVIDIA Corporation"), out);
      assertTrue(out.contains("[10de:2331]"), out);
      assertTrue(out.contains("10000:02:00.0"), out);
      assertTrue(out.contains("0000:00:0e.0"), out);
    }
  }

  @Test
  void provision_gpuBehindVmd_bindsItAndPassesHost10000ToQemu() {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.vmd())) {
      LeaseLedger ledger = LeaseLedger.open(host.root().resolve("var/lib/gpuvirt"));
      Provisioned p = Provisioner.builder(host.sysfs(), ledger).build()
          .provision(AllocationRequest.builder("vm-1").count(1).build());
      assertEquals(List.of(GPU), p.lease().devices().stream().map(LeasedDevice::address)
          .toList());
      String driver = host.sysfs().readLink("/sys/bus/pci/devices/10000:01:00.0/driver")
          .orElseThrow();
      assertTrue(driver.endsWith("/vfio-pci"), driver);
      List<String> argv = QemuCommandBuilder.forQemu(ProvisionOnSimulatedB200.qemu822())
          .memoryMiB(16 * 1024).devices(LeasePassthrough.of(p.lease())).build().argv();
      assertTrue(argv.stream().anyMatch(a -> a.startsWith("vfio-pci,host=10000:01:00.0,")),
          argv.toString());

      Lease reread = LeaseLedger.open(host.root().resolve("var/lib/gpuvirt")).lease("vm-1")
          .orElseThrow();
      assertEquals(p.lease().devices(), reread.devices());
      assertEquals(GPU, reread.devices().get(0).address());
    }
  }
}
