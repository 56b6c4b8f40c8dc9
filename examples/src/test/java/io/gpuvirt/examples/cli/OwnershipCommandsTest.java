package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One owner per device, through the CLI: a manual binding is a lease that provisioning respects, a
 * device on VFIO without a lease is never taken, and read-only commands create nothing.
 */
final class OwnershipCommandsTest {
  private static final String WS_GPU = "0000:01:00.0";
  private static final String WS_AUDIO = "0000:01:00.1";

  @TempDir Path dir;
  private SimulatedHost host;

  @AfterEach
  void close() {
    if (host != null) {
      host.close();
    }
  }

  private Path state() {
    return dir.resolve("state");
  }

  private CliRun run(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--root", host.root().toString(), "--state", state().toString()));
    return CliRun.of(all.toArray(String[]::new));
  }

  private CliRun provision(String owner) {
    return run("provision", "--gpus", "1", "--owner", owner, "--qemu-version", "10.1.0");
  }

  private Optional<String> driver(String bdf) {
    return TopologyScanner.scan(host.sysfs()).require(PciAddress.parse(bdf)).driver();
  }

  @Test
  void bindThenProvision_isRefusedNamingTheBindingAndItsDriver_untilRestored() {
    host = SimulatedHost.workstation();
    assertEquals(0, run("bind", WS_GPU).exitCode());
    assertEquals(0, run("status").exitCode(), run("status").out());

    CliRun refused = provision("vm-2");

    assertEquals(1, refused.exitCode(), refused.err());
    assertTrue(refused.err().contains("bind-" + WS_GPU + " (bound to vfio-pci by 'gpuvirt bind';"
        + " 'gpuvirt bind --restore " + WS_GPU + "' ends it)"), refused.err());
    assertEquals(0, run("status").exitCode());
  }

  @Test
  void bindThenProvision_refusalLeavesTheBindingAsItWas() {
    host = SimulatedHost.workstation();
    run("bind", WS_GPU);
    long writes = host.writeCount();

    provision("vm-2");

    assertEquals(List.of(writes, 0, Optional.of("vfio-pci")), List.of(host.writeCount(),
        host.resetCount(PciAddress.parse(WS_GPU)), driver(WS_GPU)));
  }

  @Test
  void restoreThenProvision_succeedsAndStatusIsConsistentAtEveryStep() {
    host = SimulatedHost.workstation();
    List<Integer> codes = new ArrayList<>();
    codes.add(run("bind", WS_GPU).exitCode());
    codes.add(run("bind", "--restore", WS_GPU).exitCode());
    codes.add(run("status").exitCode());
    codes.add(provision("vm-2").exitCode());
    codes.add(run("status").exitCode());
    codes.add(run("teardown", "--owner", "vm-2").exitCode());
    codes.add(run("status").exitCode());

    assertEquals(List.of(0, 0, 0, 0, 0, 0, 0), codes);
    assertEquals(List.of(Optional.of("nvidia"), Optional.of("snd_hda_intel")),
        List.of(driver(WS_GPU), driver(WS_AUDIO)));
  }

  @Test
  void provisionThenBind_isRefusedNamingTheVm() {
    host = SimulatedHost.workstation();
    provision("vm-2");

    CliRun r = run("bind", WS_GPU);

    assertEquals(1, r.exitCode());
    assertTrue(r.err().contains("vm-2"), r.err());
  }

  @Test
  void restoreOfAProvisionedVmsGpu_isRefusedPointingToTeardown() {
    host = SimulatedHost.workstation();
    provision("vm-2");
    long writes = host.writeCount();

    CliRun r = run("bind", "--restore", WS_GPU);

    assertEquals(List.of(1, writes), List.of(r.exitCode(), host.writeCount()));
    assertTrue(r.err().contains("gpuvirt teardown --owner vm-2"), r.err());
  }

  /** The GPU and its audio function put on vfio-pci behind gpuvirt's back (another tool's VM). */
  private void bindOutsideGpuvirt() {
    for (String bdf : List.of(WS_GPU, WS_AUDIO)) {
      PciAddress a = PciAddress.parse(bdf);
      host.sysfs().write(a.sysfsPath("driver_override"), "vfio-pci");
      host.sysfs().write(a.sysfsPath("driver/unbind"), bdf);
      host.sysfs().write("/sys/bus/pci/drivers_probe", bdf);
    }
  }

  @Test
  void provision_gpuOnVfioWithoutALease_isRefusedNamingTheDriverAndNeverReset() {
    host = SimulatedHost.workstation();
    bindOutsideGpuvirt();
    long writes = host.writeCount();

    CliRun r = provision("vm-2");

    assertEquals(List.of(1, writes, 0), List.of(r.exitCode(), host.writeCount(),
        host.resetCount(PciAddress.parse(WS_GPU))), r.err());
    assertTrue(r.err().contains(WS_GPU) && r.err().contains("is on vfio-pci but no gpuvirt lease"
        + " holds it: it is in use outside gpuvirt"), r.err());
  }

  @Test
  void restore_gpuOnVfioWithoutALease_isRefusedAsInUseOutsideGpuvirt() {
    host = SimulatedHost.workstation();
    bindOutsideGpuvirt();
    long writes = host.writeCount();

    CliRun r = run("bind", "--restore", WS_GPU);

    assertEquals(List.of(1, writes), List.of(r.exitCode(), host.writeCount()));
    assertTrue(r.err().contains("in use outside gpuvirt"), r.err());
  }

  @Test
  void teardown_restoresTheDriverOverrideTheGpuHadBefore() {
    host = SimulatedHost.workstation();
    PciAddress gpu = PciAddress.parse(WS_GPU);
    host.sysfs().write(gpu.sysfsPath("driver_override"), "nvidia");
    provision("vm-2");

    run("teardown", "--owner", "vm-2");

    assertEquals(List.of(Optional.of("nvidia"), Optional.of("nvidia")), List.of(driver(WS_GPU),
        TopologyScanner.scan(host.sysfs()).require(gpu).driverOverride()));
  }

  private static List<Path> tree(Path root) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      return s.sorted().toList();
    }
  }

  @Test
  void readOnlyCommands_createNoFileOrDirectory() throws IOException {
    host = SimulatedHost.workstation();
    List<Path> before = tree(host.root());

    for (String[] command : List.of(new String[] {"status"}, new String[] {"leases"},
        new String[] {"qemu-args", "--owner", "vm-9", "--qemu-version", "10.1.0"},
        new String[] {"reconcile"})) {
      run(command);
    }
    CliRun.of("topology", "--root", host.root().toString());
    CliRun.of("doctor", "--root", host.root().toString());

    assertEquals(before, tree(host.root()));
    assertTrue(Files.notExists(state()), "state directory created");
  }

  private static final String WS_NVME = "0000:02:00.0";

  @Test
  void bind_theBootDisk_isRefusedNamingTheMountWithZeroWrites() {
    host = SimulatedHost.workstation();
    long writes = host.writeCount();

    CliRun r = run("bind", WS_NVME);

    assertEquals(List.of(1, writes), List.of(r.exitCode(), host.writeCount()), r.err());
    assertTrue(r.err().contains("/dev/nvme0n1p2 on /") && r.err().contains("--allow-mounted"),
        r.err());
  }

  @Test
  void bind_theBootDiskWithAllowMounted_bindsIt() {
    host = SimulatedHost.workstation();

    CliRun r = run("bind", WS_NVME, "--allow-mounted");

    assertEquals(List.of(0, Optional.of("vfio-pci")), List.of(r.exitCode(), driver(WS_NVME)),
        r.err());
  }

  @Test
  void bind_toAHostDriver_isRefusedWithZeroWrites() {
    host = SimulatedHost.workstation();
    long writes = host.writeCount();

    CliRun r = run("bind", "--driver", "nvidia", WS_GPU);

    assertEquals(List.of(1, writes), List.of(r.exitCode(), host.writeCount()), r.err());
    assertTrue(r.err().contains("--allow-non-vfio-driver"), r.err());
  }

  @Test
  void readOnlyCommands_onThisRealHost_doNotCreateTheDefaultStateDirectory() {
    Path real = Path.of("/var/lib/gpuvirt");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.notExists(real),
        "this machine already has " + real);

    for (String command : List.of("status", "leases", "reconcile")) {
      CliRun.of(command, "--root", "/");
    }
    CliRun.of("qemu-args", "--owner", "vm-9", "--root", "/", "--qemu-version", "10.1.0");

    assertTrue(Files.notExists(real), real + " was created");
  }

  @Test
  void readOnlyCommands_withoutState_doNotCreateTheDefaultStateDirectory() throws IOException {
    host = SimulatedHost.workstation();

    for (String command : List.of("status", "leases")) {
      CliRun.of(command, "--root", host.root().toString());
    }

    assertTrue(Files.notExists(host.root().resolve("var/lib/gpuvirt")));
  }
}
