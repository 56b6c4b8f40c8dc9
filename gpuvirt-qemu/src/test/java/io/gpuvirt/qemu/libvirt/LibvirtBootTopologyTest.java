package io.gpuvirt.qemu.libvirt;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.command.Accelerator;
import io.gpuvirt.qemu.command.PassthroughDevices;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.qemu.qmp.PassthroughTopologyCheck;
import io.gpuvirt.qemu.qmp.TopologyReport;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.Libvirt;
import io.gpuvirt.qemu.testing.RunningQemu;
import io.gpuvirt.qemu.testing.StandIns;
import io.gpuvirt.qemu.testing.Tools;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The command libvirt derives from gpuvirt's domain XML boots under TCG in the real QEMU, with an
 * emulated PCIe endpoint standing in for each GPU at the place libvirt gave it, and QMP
 * {@code query-pci} confirms every stand-in behind its root port: the same check the QEMU
 * builder's own argv passes.
 *
 * <p>Of libvirt's command, only what needs libvirtd's runtime is left out: {@code -S} (libvirtd
 * resumes the guest itself), its monitor and the master-key secret file it would have written;
 * the test's own QMP socket replaces the monitor. The stand-ins and the root ports take the plan's
 * ids (libvirt's {@code ua-} alias prefix removed) so the check can find them by id.
 */
final class LibvirtBootTopologyTest {
  private static final Duration ENUMERATION = Duration.ofSeconds(60);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> LIBVIRTD_RUNTIME = Set.of("-chardev", "-mon");

  @TempDir static Path dir;
  private static QemuCapabilities caps;
  private static Libvirt libvirt;

  @BeforeAll
  static void setUp() {
    caps = QemuProbe.probe(CommandRunner.system(), Tools.qemu());
    libvirt = Libvirt.embeddedAt(dir.resolve("embed"));
  }

  static Stream<Arguments> layouts() {
    return Stream.of(Arguments.of("1 B200", Hosts.b200Vm(1), 0, false),
        Arguments.of("4 B200", Hosts.b200Vm(4), 0, false),
        Arguments.of("8 B200", Hosts.b200Vm(8), 0, false),
        Arguments.of("8 B200, NUMA placement", Hosts.b200Vm(8), 0, true),
        Arguments.of("B200 full passthrough + 2 hotplug ports", Hosts.b200FullPassthrough(), 2,
            false),
        Arguments.of("H100 full passthrough, packed ports", Hosts.h100FullPassthrough(), 0,
            false),
        Arguments.of("workstation GPU + audio", PassthroughDevices.of(List.of(
            Hosts.consumerGpuWithAudio())), 0, false));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("layouts")
  void libvirtArgv_withStandIns_everyDeviceBehindItsRootPort(String name,
      PassthroughDevices devices, int hotplugPorts, boolean numa, @TempDir Path run)
      throws IOException {
    QemuArgs plan = QemuCommandBuilder.forQemu(caps).accelerator(Accelerator.TCG)
        .cpuModel("max").memoryMiB(256).devices(devices).hotplugPorts(hotplugPorts)
        .numaPlacement(numa).build();
    Path xml = Files.writeString(run.resolve("domain.xml"),
        LibvirtDomain.builder(plan).name("vm-42").build().xml());
    List<String> argv = bootable(libvirt.argv(xml));

    try (RunningQemu vm = RunningQemu.start(argv, run)) {
      TopologyReport report = PassthroughTopologyCheck.await(vm.qmp(), plan, ENUMERATION);
      assertTrue(report.ok(), name + ": " + report + "\nstderr: " + vm.stderr() + "\nargv: "
          + argv);
    }
  }

  /** libvirt's argv without libvirtd's runtime parts, vfio-pci replaced by stand-ins. */
  private static List<String> bootable(List<String> libvirtArgv) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < libvirtArgv.size(); i++) {
      String a = libvirtArgv.get(i);
      String next = i + 1 < libvirtArgv.size() ? libvirtArgv.get(i + 1) : "";
      if (a.equals("-S")) {
        continue;
      }
      if (LIBVIRTD_RUNTIME.contains(a) || a.equals("-object") && next.contains("\"secret\"")) {
        i++;
        continue;
      }
      if (a.equals("-device") && next.startsWith("{")) {
        out.add(a);
        out.add(device(next));
        i++;
        continue;
      }
      out.add(a);
    }
    return out;
  }

  /** A {@code -device} JSON value: vfio-pci becomes the stand-in, ua- ids become plan ids. */
  private static String device(String json) {
    try {
      ObjectNode d = (ObjectNode) JSON.readTree(json);
      // ua-hostdev0-1 is the plan's hostdev0.1 (libvirt's aliases allow no '.')
      String id = d.path("id").asText().replaceFirst("^ua-", "")
          .replaceFirst("^(hostdev[0-9]+)-([0-9]+)$", "$1.$2");
      if (d.path("driver").asText().equals("vfio-pci")) {
        ObjectNode s = JSON.createObjectNode();
        s.put("driver", StandIns.DRIVER);
        s.put("serial", id);
        s.put("id", id);
        s.put("bus", d.path("bus").asText().replaceFirst("^ua-", ""));
        s.put("addr", d.path("addr").asText());
        if (d.has("multifunction")) {
          s.set("multifunction", d.get("multifunction"));
        }
        return s.toString();
      }
      if (d.has("id")) {
        d.put("id", id);
      }
      if (d.has("bus")) {
        d.put("bus", d.path("bus").asText().replaceFirst("^ua-", ""));
      }
      return d.toString();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
