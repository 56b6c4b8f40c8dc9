package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.vfio.BindingStore;
import io.gpuvirt.core.vfio.DeviceBinding;
import io.gpuvirt.core.vfio.StoredBinding;
import io.gpuvirt.testkit.Fault;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gpuvirt bind} and {@code gpuvirt bind --restore} on simulated hosts. */
final class BindCommandTest {
  private static final String B200_GPU = "0000:17:00.0";
  private static final String WS_GPU = "0000:01:00.0";
  private static final String WS_AUDIO = "0000:01:00.1";

  @TempDir Path dir;
  private SimulatedHost host;

  @AfterEach
  void deleteHost() {
    if (host != null) {
      host.close();
    }
  }

  private Path state() {
    return dir.resolve("state");
  }

  private CliRun run(SimulatedHost on, String... args) {
    host = on;
    List<String> all = new ArrayList<>(List.of("bind"));
    all.addAll(List.of(args));
    all.addAll(List.of("--root", on.root().toString(), "--state", state().toString()));
    return CliRun.of(all.toArray(String[]::new));
  }

  /** Every device's driver and driver_override, one line each. */
  private static String drivers(SimulatedHost h) {
    return TopologyScanner.scan(Sysfs.at(h.root())).devices().stream()
        .map(d -> d.address() + " " + d.driver().orElse("-") + " " + d.driverOverride().orElse("-"))
        .collect(Collectors.joining("\n"));
  }

  private static Optional<String> driver(SimulatedHost h, String bdf) {
    return TopologyScanner.scan(Sysfs.at(h.root())).require(PciAddress.parse(bdf)).driver();
  }

  @Test
  void bind_b200Gpu_exitsZeroWithTheGpuOnVfio() {
    SimulatedHost h = SimulatedHost.hgxB200();

    CliRun r = run(h, "--driver", "vfio-pci", B200_GPU);

    assertEquals(List.of(0, Optional.of("vfio-pci")), List.of(r.exitCode(), driver(h, B200_GPU)),
        r.err());
  }

  @Test
  void bind_thenRestore_putsTheHostBackExactly() {
    SimulatedHost h = SimulatedHost.hgxB200();
    String before = drivers(h);
    run(h, "--driver", "vfio-pci", B200_GPU);

    CliRun r = run(h, "--restore", B200_GPU);

    assertEquals(List.of(0, before), List.of(r.exitCode(), drivers(h)), r.err());
  }

  @Test
  void bind_workstationGpu_printsTheAudioFunctionAndTheGroupNode() {
    CliRun r = run(SimulatedHost.workstation(), WS_GPU);

    assertTrue(r.out().contains(WS_AUDIO + "  group 1  snd_hda_intel -> vfio-pci")
        && r.out().contains("group 1: /dev/vfio/1"), r.out());
  }

  @Test
  void restore_oneFunctionOfAGroup_restoresTheWholeGroup() {
    SimulatedHost h = SimulatedHost.workstation();
    run(h, WS_GPU);

    run(h, "--restore", WS_AUDIO);

    assertEquals(List.of(Optional.of("nvidia"), Optional.of("snd_hda_intel")),
        List.of(driver(h, WS_GPU), driver(h, WS_AUDIO)));
  }

  @Test
  void restore_releasesTheBindingLease() {
    SimulatedHost h = SimulatedHost.workstation();
    run(h, WS_GPU);

    run(h, "--restore", WS_GPU);

    assertEquals(List.of(), LeaseLedger.open(state()).leases());
  }

  @Test
  void bind_recordsALeaseOfTheDefaultOwnerWithOriginBind() {
    SimulatedHost h = SimulatedHost.workstation();

    run(h, WS_GPU);

    Lease lease = LeaseLedger.open(state()).lease("bind-" + WS_GPU).orElseThrow();
    assertEquals(List.of(LeaseOrigin.BIND, LeaseState.BOUND, Optional.of("vfio-pci")),
        List.of(lease.origin(), lease.state(),
            lease.device(PciAddress.parse(WS_GPU)).orElseThrow().vfioDriver()));
  }

  @Test
  void bind_withOwner_recordsTheLeaseUnderThatOwner() {
    SimulatedHost h = SimulatedHost.workstation();

    run(h, WS_GPU, "--owner", "maintenance-7");

    assertTrue(LeaseLedger.open(state()).lease("maintenance-7").isPresent());
  }

  @Test
  void bind_noAcsGpu_exitsOneNamingTheNicAndChangesNothing() {
    SimulatedHost h = SimulatedHost.noAcs();
    String before = drivers(h);

    CliRun r = run(h, "0000:03:00.0");

    assertEquals(List.of(1, before), List.of(r.exitCode(), drivers(h)));
    assertTrue(r.err().contains("refused") && r.err().contains("0000:04:00.0"), r.err());
  }

  @Test
  void bind_noAcsGpuWithTheNicAllowed_exitsZero() {
    SimulatedHost h = SimulatedHost.noAcs();

    CliRun r = run(h, "0000:03:00.0", "--allow", "0000:04:00.0");

    assertEquals(List.of(0, Optional.of("vfio-pci")), List.of(r.exitCode(),
        driver(h, "0000:04:00.0")), r.err());
  }

  @Test
  void bind_iommuOff_exitsOne() {
    CliRun r = run(SimulatedHost.iommuOff(), "0000:03:00.0");

    assertEquals(1, r.exitCode());
    assertTrue(r.err().contains("IOMMU is off"), r.err());
  }

  @Test
  void bind_twice_saysNothingToDoTheSecondTime() {
    SimulatedHost h = SimulatedHost.workstation();
    run(h, WS_GPU);

    CliRun r = run(h, WS_GPU);

    assertEquals(0, r.exitCode());
    assertTrue(r.out().contains("nothing to do"), r.out());
  }

  @Test
  void bind_twice_keepsTheOriginalDriversOfTheFirstBind() {
    SimulatedHost h = SimulatedHost.workstation();
    run(h, WS_GPU);
    run(h, WS_GPU);

    run(h, "--restore", WS_GPU);

    assertEquals(Optional.of("nvidia"), driver(h, WS_GPU));
  }

  @Test
  void bind_json_namesDevicesOriginalDriversAndGroupNodes() throws IOException {
    CliRun r = run(SimulatedHost.workstation(), WS_GPU, "--json");

    JsonNode json = new ObjectMapper().readTree(r.out());
    assertEquals(List.of(WS_GPU, "nvidia", "/dev/vfio/1"), List.of(
        json.at("/devices/0/address").asText(), json.at("/devices/0/originalDriver").asText(),
        json.at("/groups/0/groupNode").asText()));
  }

  @Test
  void bind_withoutState_recordsUnderTheRoot() {
    host = SimulatedHost.workstation();

    CliRun.of("bind", WS_GPU, "--root", host.root().toString());

    assertTrue(Files.isRegularFile(host.root().resolve("var/lib/gpuvirt/leases.json")));
  }

  @Test
  void restore_deviceGpuvirtHasNoRecordOf_exitsOneAndChangesNothing() {
    SimulatedHost h = SimulatedHost.hgxB200();
    String before = drivers(h);

    CliRun r = run(h, "--restore", B200_GPU);

    assertEquals(List.of(1, before), List.of(r.exitCode(), drivers(h)));
    assertTrue(r.err().contains("refusing to restore " + B200_GPU + ": no gpuvirt lease holds it")
        && r.err().contains("not a VFIO driver: there is nothing to restore"), r.err());
  }

  @Test
  void restore_oneUnknownAmongKnown_changesNothing() {
    SimulatedHost h = SimulatedHost.hgxB200();
    run(h, B200_GPU);
    String bound = drivers(h);

    CliRun r = run(h, "--restore", B200_GPU, "0000:3d:00.0");

    assertEquals(List.of(1, bound), List.of(r.exitCode(), drivers(h)));
  }

  @Test
  void bind_malformedBdf_exitsTwo() {
    CliRun r = run(SimulatedHost.workstation(), "01:00.0:zz");

    assertEquals(2, r.exitCode());
  }

  @Test
  void bind_deviceThatDoesNotExist_exitsTwoNamingIt() {
    CliRun r = run(SimulatedHost.workstation(), "0000:42:00.0");

    assertEquals(2, r.exitCode());
    assertTrue(r.err().contains("0000:42:00.0"), r.err());
  }

  @Test
  void bind_rootThatIsNotASysfsTree_exitsTwo() throws IOException {
    Path notSysfs = Files.createDirectories(dir.resolve("empty"));

    CliRun r = CliRun.of("bind", WS_GPU, "--root", notSysfs.toString(), "--state",
        state().toString());

    assertEquals(2, r.exitCode());
    assertTrue(r.err().contains("not a sysfs tree"), r.err());
  }

  @Test
  void bind_restoreWithDriver_exitsTwo() {
    CliRun r = run(SimulatedHost.workstation(), "--restore", "--driver", "vfio-pci", WS_GPU);

    assertEquals(2, r.exitCode());
  }

  @Test
  void bind_failingStep_exitsOneLeavesTheHostAsBeforeAndRecordsNothing() {
    SimulatedHost h = SimulatedHost.hgxB200();
    String before = drivers(h);
    h.inject(Fault.unbindBusy(PciAddress.parse("0000:3d:00.0")));

    CliRun r = run(h, B200_GPU, "0000:3d:00.0");

    assertEquals(List.of(1, before, List.of()), List.of(r.exitCode(), drivers(h),
        LeaseLedger.open(state()).leases()));
  }

  @Test
  void bind_failingStep_namesTheDeviceTheStepAndTheFix() {
    SimulatedHost h = SimulatedHost.hgxB200();
    h.inject(Fault.unbindBusy(PciAddress.parse("0000:3d:00.0")));

    CliRun r = run(h, B200_GPU, "0000:3d:00.0");

    assertTrue(r.err().contains("binding 0000:3d:00.0 to vfio-pci failed at UNBIND")
        && r.err().contains("stop what holds it"), r.err());
  }

  @Test
  void restore_failingStep_exitsTwoAndKeepsTheRecordsForARetry() {
    SimulatedHost h = SimulatedHost.hgxB200();
    String before = drivers(h);
    run(h, B200_GPU);
    h.inject(Fault.probeFails(PciAddress.parse(B200_GPU)));
    assertEquals(1, run(h, "--restore", B200_GPU).exitCode());

    CliRun retry = run(h, "--restore", B200_GPU);

    assertEquals(List.of(0, before), List.of(retry.exitCode(), drivers(h)), retry.err());
  }

  /**
   * A bind of gpuvirt 0.1 (which kept bindings.json) that died after unbinding the GPU and setting
   * its override, before probing.
   */
  private void interruptedLegacyBind(SimulatedHost h) {
    PciAddress gpu = PciAddress.parse(B200_GPU);
    int group = TopologyScanner.scan(h.sysfs()).require(gpu).iommuGroup().getAsInt();
    try (BindingStore.Session s = BindingStore.open(state()).lock()) {
      s.replace(List.of(new StoredBinding(new DeviceBinding(gpu, group, Optional.of("nvidia"),
          Optional.empty(), "vfio-pci", true), StoredBinding.Phase.BINDING)));
    }
    h.sysfs().write(gpu.sysfsPath("driver_override"), "vfio-pci");
    h.sysfs().write(gpu.sysfsPath("driver/unbind"), B200_GPU);
  }

  @Test
  void restore_afterAnInterruptedLegacyBind_putsTheDeviceBackAndKeepsTheOldFile() {
    SimulatedHost h = SimulatedHost.hgxB200();
    String before = drivers(h);
    interruptedLegacyBind(h);

    CliRun r = run(h, "--restore", B200_GPU);

    assertEquals(List.of(0, before, List.of(), false, true), List.of(r.exitCode(), drivers(h),
        LeaseLedger.open(state()).leases(), Files.exists(state().resolve("bindings.json")),
        Files.exists(state().resolve("bindings.json.v1.bak"))), r.err());
  }

  @Test
  void bind_afterAnInterruptedLegacyBind_rollsItBackAndBindsAgain() {
    SimulatedHost h = SimulatedHost.hgxB200();
    interruptedLegacyBind(h);

    CliRun r = run(h, B200_GPU);

    assertEquals(List.of(0, Optional.of("vfio-pci"), LeaseState.BOUND), List.of(r.exitCode(),
        driver(h, B200_GPU), LeaseLedger.open(state()).lease("bind-" + B200_GPU).orElseThrow()
            .state()), r.err());
  }

  @Test
  void bind_corruptState_exitsTwoChangesNothingAndKeepsTheFile() throws IOException {
    SimulatedHost h = SimulatedHost.hgxB200();
    String before = drivers(h);
    Files.createDirectories(state());
    Files.writeString(state().resolve("bindings.json"), "{ torn");

    CliRun r = run(h, B200_GPU);

    assertEquals(List.of(2, before), List.of(r.exitCode(), drivers(h)));
    assertArrayEquals("{ torn".getBytes(), Files.readAllBytes(state().resolve("bindings.json")));
  }

  @Test
  void bind_variantDriverThatIsNotLoaded_exitsOneNamingModprobe() {
    CliRun r = run(SimulatedHost.create(HostProfile.hgxB200()), "--driver",
        "nvgrace_gpu_vfio_pci", B200_GPU);

    assertEquals(1, r.exitCode());
    assertTrue(r.err().contains("modprobe nvgrace_gpu_vfio_pci"), r.err());
  }
}
