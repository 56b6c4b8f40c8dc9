package io.gpuvirt.examples.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.examples.guest.GpuPlacement.Verdict;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The PCIe placement check on guest trees written by the testkit and read by the real scanner. */
final class RootPortCheckTest {

  private static List<GpuPlacement> examine(HostProfile guest) {
    try (SimulatedHost host = SimulatedHost.create(guest)) {
      return RootPortCheck.examine(TopologyScanner.scan(host.sysfs()));
    }
  }

  @Test
  void examine_gpuBehindRootPort_passes() {
    assertEquals(Verdict.BEHIND_ROOT_PORT, examine(GuestTrees.behindRootPort()).get(0).verdict());
  }

  @Test
  void examine_gpuBehindRootPort_namesThePort() {
    assertEquals(Optional.of(PciAddress.parse("0000:00:04.0")),
        examine(GuestTrees.behindRootPort()).get(0).rootPort());
  }

  @Test
  void examine_flatLayout_failsOnTheRootComplex() {
    assertEquals(Verdict.ON_ROOT_COMPLEX, examine(GuestTrees.flat()).get(0).verdict());
  }

  @Test
  void examine_flatLayout_namesTheGpuAndItsBus() {
    String why = examine(GuestTrees.flat()).get(0).explanation();
    assertTrue(why.contains("0000:00:04.0") && why.contains("root bus 0000:00"), why);
  }

  @Test
  void examine_flatLayout_givesTheRootPortFix() {
    String fix = examine(GuestTrees.flat()).get(0).fix().orElseThrow();
    assertTrue(fix.contains("-device pcie-root-port"), fix);
  }

  @Test
  void examine_passed_hasNoFix() {
    assertEquals(Optional.empty(), examine(GuestTrees.behindRootPort()).get(0).fix());
  }

  @Test
  void examine_portTypeUnreadable_bridgeOnRootBusTakenAsRootPort() {
    assertEquals(Verdict.BEHIND_ROOT_BUS_BRIDGE,
        examine(GuestTrees.behindRootPortTypeUnreadable()).get(0).verdict());
  }

  @Test
  void examine_bridgeThatIsNoRootPort_fails() {
    assertEquals(Verdict.NO_ROOT_PORT,
        examine(GuestTrees.behindPcieToPciBridge()).get(0).verdict());
  }

  @Test
  void examine_gpuBehindSwitchBehindRootPort_passes() {
    GpuPlacement p = examine(GuestTrees.behindSwitch()).get(0);
    assertEquals(List.of(Verdict.BEHIND_ROOT_PORT, 3), List.of(p.verdict(), p.upstream().size()));
  }

  @Test
  void examine_fourGpusBehindTheirPorts_allPass() {
    List<GpuPlacement> gpus = examine(GuestTrees.fourBehindRootPorts());
    assertTrue(gpus.size() == 4 && gpus.stream().allMatch(GpuPlacement::passed), gpus.toString());
  }

  @Test
  void examine_oneFlatGpuAmongOthers_failsThatOneOnly() {
    List<String> failed = examine(GuestTrees.oneBehindOneFlat()).stream()
        .filter(g -> !g.passed()).map(g -> g.gpu().toString()).toList();
    assertEquals(List.of("0000:00:05.0"), failed);
  }

  @Test
  void examine_noNvidiaGpu_findsNone() {
    assertEquals(List.of(), examine(GuestTrees.noGpu()));
  }
}
