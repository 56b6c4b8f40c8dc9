package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Life cycle of a simulated host: temporary or kept, reopened, shared between processes. */
final class SimulatedHostTest {
  private static final PciAddress GPU = PciAddress.parse("0000:01:00.0");

  static List<String> presets() {
    return HostProfile.presetNames();
  }

  @Test
  void close_deletesTheTemporaryTree() {
    SimulatedHost host = SimulatedHost.workstation();
    Path root = host.root();
    host.close();
    assertFalse(Files.exists(root));
  }

  @Test
  void createInDirectory_keepsTheTreeAfterClose(@TempDir Path dir) {
    Path root = dir.resolve("host");
    SimulatedHost.create(HostProfile.workstation(), root).close();
    assertTrue(Files.isDirectory(root.resolve("sys/bus/pci/devices/0000:01:00.0")));
  }

  @Test
  void createInDirectory_thatIsNotEmpty_isRefused(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("precious.txt"), "keep me");
    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> SimulatedHost.create(HostProfile.workstation(), dir));
    assertTrue(e.getMessage().contains("not empty"), e.getMessage());
  }

  @Test
  void open_seesBindingsMadeThroughAnotherHandle(@TempDir Path dir) {
    try (SimulatedHost first = SimulatedHost.create(HostProfile.workstation(), dir)) {
      first.sysfs().write(GPU.sysfsPath("driver_override"), "vfio-pci");
      first.sysfs().write(GPU.sysfsPath("driver/unbind"), GPU.toString());
      first.sysfs().write("/sys/bus/pci/drivers_probe", GPU.toString());
    }
    try (SimulatedHost again = SimulatedHost.open(dir)) {
      assertEquals(Optional.of("vfio-pci"),
          ContractReader.device(again.sysfs(), GPU).driver());
    }
  }

  @Test
  void open_readsTheProfileItWasWrittenFrom(@TempDir Path dir) {
    SimulatedHost.create(HostProfile.hgxB200(), dir).close();
    try (SimulatedHost again = SimulatedHost.open(dir)) {
      assertEquals(HostProfile.hgxB200(), again.profile());
    }
  }

  @Test
  void open_ofADirectoryWithoutAHost_isRefused(@TempDir Path dir) {
    GpuvirtException e = assertThrows(GpuvirtException.class, () -> SimulatedHost.open(dir));
    assertTrue(e.getMessage().contains("no simulated host in " + dir), e.getMessage());
  }

  @Test
  void close_ofAnOpenedHost_keepsTheTree(@TempDir Path dir) {
    SimulatedHost.create(HostProfile.workstation(), dir).close();
    SimulatedHost.open(dir).close();
    assertTrue(Files.exists(dir.resolve("sys")));
  }

  @ParameterizedTest
  @MethodSource("presets")
  void profileJson_roundTrips(String preset) {
    HostProfile p = HostProfile.preset(preset);
    assertEquals(p, ProfileJson.read(ProfileJson.write(p), "test"));
  }

  @Test
  void profileJson_corrupt_isRefusedNamingTheFile() {
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> ProfileJson.read("{\"format\":1,\"name\":7}", "/x/.gpuvirt-profile.json"));
    assertTrue(e.getMessage().contains("/x/.gpuvirt-profile.json"), e.getMessage());
  }

  @Test
  void twoThreads_onTwoHandles_loseNoUpdate() throws InterruptedException {
    try (SimulatedHost host = SimulatedHost.workstation();
        SimulatedHost other = SimulatedHost.open(host.root())) {
      List<Thread> threads = new ArrayList<>();
      for (SimulatedHost h : List.of(host, other)) {
        threads.add(new Thread(() -> {
          for (int i = 0; i < 50; i++) {
            h.sysfs().write(GPU.sysfsPath("reset"), "1");
          }
        }));
      }
      threads.forEach(Thread::start);
      for (Thread t : threads) {
        t.join();
      }
      assertEquals(100, host.resetCount(GPU));
    }
  }

  @Test
  void twoProcesses_onOneTree_loseNoUpdate() throws Exception {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      String java = ProcessHandle.current().info().command().orElse("java");
      List<Process> children = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        children.add(new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
            HostWriterMain.class.getName(), host.root().toString(), GPU.toString(), "400")
            .redirectErrorStream(true).start());
      }
      for (Process p : children) {
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child process timed out");
        assertEquals(0, p.exitValue(), new String(p.getInputStream().readAllBytes()));
      }
      assertEquals(800, host.resetCount(GPU));
    }
  }

  @Test
  void expectedTopology_ofAFreshHost_equalsWhatTheTreeReadsBack() {
    try (SimulatedHost host = SimulatedHost.noAcs()) {
      assertEquals(host.expectedTopology().devices(),
          ContractReader.scan(host.sysfs()).devices());
    }
  }
}
