package io.gpuvirt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.examples.guest.GuestCheck;
import io.gpuvirt.testkit.DeviceSpec;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each example program runs on a fresh clone: JDK and Maven only, no QEMU, no GPU, no root. */
final class ExamplesTest {
  @TempDir Path dir;

  private static String output(Printer run) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
      run.accept(out);
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  /** Something that prints to a stream. */
  @FunctionalInterface
  private interface Printer {
    void accept(PrintStream out);
  }

  @Test
  void provisionOnSimulatedB200_main_exits0() {
    CommandResult r = ExampleMains.run(ProvisionOnSimulatedB200.class);
    assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
  }

  /** One in-process run of the B200 example, shared by the tests that read its output. */
  private static final class B200Run {
    static final boolean RESTORED;
    static final String OUT;

    static {
      boolean[] restored = new boolean[1];
      OUT = output(out -> restored[0] = ProvisionOnSimulatedB200.run(out));
      RESTORED = restored[0];
    }
  }

  @Test
  void provisionOnSimulatedB200_run_returnsTheHostToItsInitialState() {
    assertTrue(B200Run.RESTORED, B200Run.OUT);
  }

  @Test
  void provisionOnSimulatedB200_run_printsARootPortAndTheCliqueForEachGpu() {
    String out = B200Run.OUT;
    for (String gpu : new String[] {"0000:17:00.0", "0000:3d:00.0", "0000:60:00.0",
        "0000:70:00.0"}) {
      assertTrue(out.matches("(?s).*vfio-pci,host=" + gpu + ",id=hostdev\\d,bus=rp\\d,addr=0x0.0,"
          + "x-no-mmap=true,x-nv-gpudirect-clique=2.*"), gpu + " in\n" + out);
    }
  }

  @Test
  void provisionOnSimulatedB200_run_printsModuleIdsOfThePartition() {
    String out = B200Run.OUT;
    assertTrue(out.contains("Fabric Manager partition 2")
        && out.contains("GPU 0000:17:00.0  module id 1"), out);
  }

  @Test
  void inspectRealHost_main_simulatedB200_exits0Ready() throws IOException {
    Path root = dir.resolve("b200");
    SimulatedHost.create(HostProfile.hgxB200(), root).close();
    CommandResult r = ExampleMains.run(InspectRealHost.class, root.toString());
    assertTrue(r.exitCode() == 0 && r.stdout().contains("READY"), r.stdout() + r.stderr());
  }

  @Test
  void inspectRealHost_main_notAHostRoot_exits2() {
    CommandResult r = ExampleMains.run(InspectRealHost.class, dir.toString());
    assertTrue(r.exitCode() == 2 && r.stderr().contains("not a sysfs tree"), r.stderr());
  }

  @Test
  void inspectRealHost_run_printsTheTreeAndTheDoctor() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      String out = output(o -> InspectRealHost.run(host.root(), o));
      assertTrue(out.contains("-01.0-[01]--") && out.contains("GPU driver policy: STATIC_VFIO")
          && out.contains("iommu.enabled"), out);
    }
  }

  @Test
  void inspectRealHost_run_changesNothing() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      Map<String, String> before = snapshot(host.root());
      output(o -> InspectRealHost.run(host.root(), o));
      assertEquals(before, snapshot(host.root()));
    }
  }

  @Test
  void inspectRealHost_run_readsThisMachine() {
    Assumptions.assumeTrue(Files.isDirectory(Path.of("/sys/bus/pci/devices")),
        "this machine has no /sys/bus/pci");
    String out = output(o -> InspectRealHost.run(Path.of("/"), o));
    assertTrue(out.startsWith("Host /: ") && out.contains("PCI device"), out);
  }

  @Test
  void guestCheck_main_flatGuestWithoutDriver_exits1() {
    Path root;
    HostProfile flat = HostProfile.builder().name("flat-guest").loadDriver("nvidia")
        .device(DeviceSpec.builder(PciAddress.parse("0000:00:04.0")).id(new PciId(0x10de, 0x2901))
            .pciClass(new PciClass(0x030200)).driver("nvidia").build())
        .build();
    try (SimulatedHost guest = SimulatedHost.create(flat, dir.resolve("guest"))) {
      root = guest.root();
    }
    CommandResult r = ExampleMains.run(GuestCheck.class, "--root", root.toString(),
        "--cuda-library", dir.resolve("libcuda.so.1").toString());
    assertTrue(r.exitCode() == 1 && r.stdout().contains("sits directly on root bus 0000:00")
        && r.stdout().contains("cannot load"), r.stdout() + r.stderr());
  }

  /** Every file under {@code root} with its content (links as their targets). */
  private static Map<String, String> snapshot(Path root) {
    Map<String, String> files = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(root)) {
      walk.forEach(p -> {
        try {
          if (Files.isSymbolicLink(p)) {
            files.put(root.relativize(p).toString(), "-> " + Files.readSymbolicLink(p));
          } else if (Files.isRegularFile(p)) {
            files.put(root.relativize(p).toString(), new String(Files.readAllBytes(p),
                StandardCharsets.ISO_8859_1));
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return files;
  }
}
