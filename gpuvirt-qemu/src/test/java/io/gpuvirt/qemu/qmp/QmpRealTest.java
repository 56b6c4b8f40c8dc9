package io.gpuvirt.qemu.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.command.Accelerator;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.qemu.command.QemuOption;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.RunningQemu;
import io.gpuvirt.qemu.testing.StandIns;
import io.gpuvirt.qemu.testing.Tools;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The QMP client against the installed QEMU. */
final class QmpRealTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static String qemu;
  private static QemuCapabilities caps;

  @BeforeAll
  static void probe() {
    qemu = Tools.qemu();
    caps = QemuProbe.probe(CommandRunner.system(), qemu);
  }

  private static RunningQemu idle(Path dir, String... extra) {
    List<String> argv = new java.util.ArrayList<>(List.of(qemu, "-machine", "none", "-S",
        "-nodefaults", "-display", "none"));
    argv.addAll(List.of(extra));
    return RunningQemu.start(argv, dir);
  }

  private static QemuArgs withHotplugPort() {
    return QemuCommandBuilder.forQemu(caps).accelerator(Accelerator.TCG).cpuModel("max")
        .memoryMiB(256).devices(Hosts.b200Vm(1)).hotplugPorts(1)
        .extraArguments(List.of("-nodefaults", "-display", "none")).build();
  }

  @Test
  void queryVersion_matchesTheProbe(@TempDir Path dir) {
    try (RunningQemu vm = idle(dir)) {
      assertEquals(caps.version(), vm.qmp().queryVersion());
    }
  }

  @Test
  void capabilities_viaQmpMatchTheCommandLineProbe(@TempDir Path dir) {
    try (RunningQemu vm = idle(dir)) {
      // object types compared apart: QMP's qom-list-types also lists types -object help hides
      // (dbus-display on 7.2)
      QemuCapabilities viaQmp = vm.qmp().capabilities(List.of());
      assertEquals(caps.toBuilder().unknownObjects().build(),
          viaQmp.toBuilder().unknownObjects().build());
    }
  }

  @Test
  void capabilities_viaQmpListEveryObjectTypeTheProbeLists(@TempDir Path dir) {
    try (RunningQemu vm = idle(dir)) {
      java.util.Set<String> viaQmp = vm.qmp().capabilities(List.of()).objectTypes().orElseThrow();
      assertTrue(viaQmp.containsAll(caps.objectTypes().orElseThrow()), viaQmp.toString());
    }
  }

  @Test
  void deviceListProperties_unknownTypeIsDeviceNotFound(@TempDir Path dir) {
    try (RunningQemu vm = idle(dir)) {
      QmpErrorException e = assertThrows(QmpErrorException.class,
          () -> vm.qmp().deviceListProperties("no-such-device"));
      assertEquals("DeviceNotFound", e.errorClass());
    }
  }

  @Test
  void name_escapedRandomStringsRoundTripThroughQemu(@TempDir Path dir) {
    String alphabet = ",,,===  ab\\\"'\u00e9\u4e2d;:.-_";
    for (long seed = 0; seed < 5; seed++) {
      Random r = new Random(seed);
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < 1 + r.nextInt(16); i++) {
        sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
      }
      String name = sb.toString();
      Path run = dir.resolve("seed" + seed);
      run.toFile().mkdirs();
      try (RunningQemu vm = idle(run, "-name", QemuOption.of().with("guest", name).render())) {
        assertEquals(name, vm.qmp().execute("query-name").path("name").asText(), "seed " + seed);
      }
    }
  }

  @Test
  void deviceAddAndDel_intoAHotplugPortCompleteOnReset(@TempDir Path dir) throws Exception {
    QemuArgs args = withHotplugPort();
    try (RunningQemu vm = RunningQemu.start(StandIns.argv(args), dir)) {
      QmpClient qmp = vm.qmp();
      qmp.deviceAdd(Map.of("driver", StandIns.DRIVER, "serial", "hot1", "id", "hot1",
          "bus", args.hotplugPorts().get(0).id()));
      // No guest OS acknowledges the unplug; a reset after the request completes it.
      CompletableFuture<Void> del = CompletableFuture.runAsync(() -> qmp.deviceDel("hot1", WAIT));
      for (int i = 0; i < 100 && !del.isDone(); i++) {
        Thread.sleep(100);
        qmp.execute("system_reset");
      }
      del.get();
      assertTrue(qmp.queryPci().stream().flatMap(d -> d.children().stream())
          .noneMatch(d -> d.qdevId().equals("hot1")));
    }
  }

  @Test
  void deviceDel_withoutGuestAcknowledgementTimesOut(@TempDir Path dir) {
    QemuArgs args = withHotplugPort();
    try (RunningQemu vm = RunningQemu.start(StandIns.argv(args), dir)) {
      vm.qmp().deviceAdd(Map.of("driver", StandIns.DRIVER, "serial", "hot1", "id", "hot1",
          "bus", args.hotplugPorts().get(0).id()));
      assertThrows(QmpTimeoutException.class,
          () -> vm.qmp().deviceDel("hot1", Duration.ofMillis(500)));
    }
  }

  @Test
  void execute_afterQemuDiedRaisesClosed(@TempDir Path dir) {
    try (RunningQemu vm = idle(dir)) {
      vm.kill();
      assertThrows(QmpClosedException.class, () -> vm.qmp().execute("query-status"));
    }
  }
}
