package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.core.vgpu.VgpuCapability;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuInterface;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.testkit.FakeNvidiaSmiMig;
import io.gpuvirt.testkit.FakeSriovManage;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * vGPU provisioning and teardown interrupted before each of their sysfs writes (an {@link Error}
 * that unwinds the call the way a crash would, skipping every rollback), on the vendor-specific
 * L40S host, the legacy-mdev T4 host and the H200 host with MIG-backed vGPUs: after {@code recover()} no VF carries a type and no
 * mediated device exists that a BOUND lease does not hold, every lease is BOUND with its vGPU in
 * place, and after a last teardown the host is exactly as before.
 */
final class VgpuCrashAtEveryWriteTest {
  private static final String OWNER = "vm-crash";

  @TempDir Path state;

  @ParameterizedTest
  @ValueSource(strings = {"l40s-vgpu", "t4-mdev", "h200-vgpu"})
  void crashBeforeEveryWrite_isRecovered(String preset) {
    String type = switch (preset) {
      case "t4-mdev" -> "T4-4Q";
      case "h200-vgpu" -> "H200X-1-18C"; // MIG-backed: each vGPU occupies a GPU instance
      default -> "L40S-1Q";
    };
    try (SimulatedHost host = SimulatedHost.create(HostProfile.preset(preset))) {
      VgpuDevices plain = devices(host.sysfs());
      if (!preset.equals("t4-mdev")) {
        plain.capabilities().forEach(c -> plain.enable(c.pf()));
      }
      if (preset.equals("h200-vgpu")) {
        FakeNvidiaSmiMig smi = new FakeNvidiaSmiMig(host);
        for (List<String> argv : List.of(List.of("nvidia-smi", "-i", "0", "-mig", "1"),
            List.of("nvidia-smi", "-r", "-i", "0"),
            List.of("nvidia-smi", "mig", "-i", "0", "-cgi", "19,19,19", "-C"))) {
          CommandResult r = smi.run(Command.of(argv));
          assertEquals(0, r.exitCode(), argv + ": " + r.stderr());
        }
      }
      LeaseLedger ledger = LeaseLedger.open(state);
      VgpuProvisioner.on(plain, ledger).provision(VgpuRequest.ofType("vm-other", type));
      String before = snapshot(host);
      int provisionCrashes = 0;
      for (int n = 1; ; n++) {
        if (!crashed(host, ledger, n, p -> p.provision(VgpuRequest.ofType(OWNER, type)))) {
          VgpuProvisioner.on(plain, ledger).teardown(OWNER);
          break;
        }
        provisionCrashes++;
        assertRecovered(plain, ledger, preset + ", provision crashed before write " + n);
        VgpuProvisioner.on(plain, ledger).teardown(OWNER);
        assertEquals(before, snapshot(host), preset + ", after write " + n);
      }
      int teardownCrashes = 0;
      for (int n = 1; ; n++) {
        VgpuProvisioner.on(plain, ledger).provision(VgpuRequest.ofType(OWNER, type));
        if (!crashed(host, ledger, n, p -> p.teardown(OWNER))) {
          break;
        }
        teardownCrashes++;
        assertRecovered(plain, ledger, preset + ", teardown crashed before write " + n);
        VgpuProvisioner.on(plain, ledger).teardown(OWNER);
      }
      assertTrue(provisionCrashes > 0 && teardownCrashes > 0, preset + ": no write was made");
      assertEquals(before, snapshot(host), preset + ": at the end");
    }
  }

  private static VgpuDevices devices(Sysfs sysfs) {
    return VgpuDevices.on(sysfs, new FakeSriovManage(sysfs)).withRetry(1, Duration.ZERO);
  }

  private static boolean crashed(SimulatedHost host, LeaseLedger ledger, int n,
      Consumer<VgpuProvisioner> call) {
    Sysfs crashing = InterruptingSysfs.crashingAt(host.sysfs(), n);
    try {
      call.accept(VgpuProvisioner.on(devices(crashing), ledger));
      return false;
    } catch (InterruptingSysfs.Crash expected) {
      return true;
    }
  }

  /** recover(), then: every vGPU on the host is a BOUND lease's, and every lease's is there. */
  private static void assertRecovered(VgpuDevices devices, LeaseLedger ledger, String what) {
    VgpuProvisioner.on(devices, ledger).recover();
    Map<String, Integer> onHost = new HashMap<>();
    for (VgpuCapability gpu : devices.capabilities()) {
      if (gpu.vgpuInterface() == VgpuInterface.LEGACY_MDEV) {
        devices.mdevs(gpu.pf()).forEach((uuid, type) -> onHost.put("/sys/bus/mdev/devices/"
            + uuid, type));
      } else {
        for (PciAddress vf : gpu.virtualFunctions()) {
          int current = devices.currentType(vf);
          if (current != 0) {
            onHost.put("/sys/bus/pci/devices/" + vf, current);
          }
        }
      }
    }
    Map<String, Integer> leased = new HashMap<>();
    for (Lease lease : ledger.leases()) {
      assertEquals(LeaseState.BOUND, lease.state(), what + ": " + lease);
      for (VgpuAssignment v : lease.vgpus()) {
        leased.put(v.sysfsPath(), v.type().id());
      }
    }
    assertEquals(leased, onHost, what);
  }

  /**
   * Every path under sys/ with the content of the files vGPU steps change, and the GPU instances
   * MIG-backed vGPUs occupy (kept by the simulated driver beside the tree).
   */
  private static String snapshot(SimulatedHost host) {
    StringBuilder b = new StringBuilder();
    Path driverState = host.root().resolve(".gpuvirt-state.json");
    try {
      if (Files.exists(driverState)) {
        b.append("migVgpus ").append(new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(driverState.toFile()).path("migVgpus")).append('\n');
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try (var paths = Files.walk(host.root().resolve("sys"))) {
      for (Path p : paths.sorted().toList()) {
        b.append(host.root().relativize(p)).append('\n');
        String name = p.getFileName().toString();
        if (name.equals("current_vgpu_type") || name.equals("available_instances")
            || name.equals("creatable_vgpu_types")) {
          b.append(Files.readString(p));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return b.toString();
  }
}
