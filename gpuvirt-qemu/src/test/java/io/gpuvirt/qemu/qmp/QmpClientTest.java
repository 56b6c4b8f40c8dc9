package io.gpuvirt.qemu.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.qemu.QemuVersion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The QMP client against a scripted peer: framing, replies, errors, events, timeouts. */
final class QmpClientTest {
  private static final Duration SHORT = Duration.ofMillis(300);
  private static final Duration LONG = Duration.ofSeconds(10);

  @Test
  void connect_negotiatesCapabilitiesFirst(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of())) {
      QmpClient.connect(s.socket(), LONG).close();
      assertEquals("qmp_capabilities", s.received().get(0).path("execute").asText());
    }
  }

  @Test
  void greetingVersion_isRead(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of());
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      assertEquals(new QemuVersion(8, 2, 2, "Debian 1:8.2.2+ds-0ubuntu1.4"),
          qmp.greetingVersion());
    }
  }

  @Test
  void queryVersion_readsTheReply(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of("{\"return\": {\"qemu\":"
        + " {\"micro\": 0, \"minor\": 1, \"major\": 10}, \"package\": \"\"}, \"id\": \"{id}\"}"));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      assertEquals(QemuVersion.of(10, 1, 0), qmp.queryVersion());
    }
  }

  @Test
  void execute_sendsArguments(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir,
        c -> List.of("{\"return\": [], \"id\": \"{id}\"}"));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      qmp.execute("device-list-properties", Map.of("typename", "vfio-pci"));
      assertEquals("vfio-pci", s.received().get(1).path("arguments").path("typename").asText());
    }
  }

  @Test
  void execute_errorReplyCarriesTheErrorClass(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of("{\"error\": {\"class\":"
        + " \"DeviceNotFound\", \"desc\": \"Device 'gpu9' not found\"}, \"id\": \"{id}\"}"));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      QmpErrorException e = assertThrows(QmpErrorException.class,
          () -> qmp.execute("device_del", Map.of("id", "gpu9")));
      assertEquals("DeviceNotFound", e.errorClass());
    }
  }

  @Test
  void execute_withoutReplyTimesOut(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of());
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      assertThrows(QmpTimeoutException.class,
          () -> qmp.execute("query-pci", Map.of(), SHORT));
    }
  }

  @Test
  void execute_staleReplyOfATimedOutCommandIsNotTakenForTheNext(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> c.path("execute").asText()
            .equals("slow") ? List.of() : List.of("{\"return\": \"fresh\", \"id\": \"{id}\"}"));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      assertThrows(QmpTimeoutException.class, () -> qmp.execute("slow", Map.of(), SHORT));
      assertEquals("fresh", qmp.execute("query-status").asText());
    }
  }

  @Test
  void execute_peerClosingWhileWaitingRaisesClosed(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of(FakeQmpServer.CLOSE));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      QmpClosedException e = assertThrows(QmpClosedException.class,
          () -> qmp.execute("query-pci"));
      assertTrue(e.getMessage().contains("query-pci") && e.getMessage().contains("closed"),
          e.getMessage());
    }
  }

  @Test
  void execute_peerSendingALineWithoutEnd_isClosedNotBuffered(@TempDir Path dir) {
    String endless = "x".repeat(QmpClient.MAX_MESSAGE_BYTES + 1);
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of(endless));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      QmpClosedException e = assertThrows(QmpClosedException.class,
          () -> qmp.execute("query-pci"));
      assertTrue(e.getMessage().contains("without a newline"), e.getMessage());
    }
  }

  @Test
  void execute_afterPeerClosedRaisesClosed(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of(FakeQmpServer.CLOSE));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      assertThrows(QmpClosedException.class, () -> qmp.execute("stop"));
      assertThrows(QmpClosedException.class, () -> qmp.execute("cont"));
    }
  }

  @Test
  void execute_afterCloseRaisesClosed(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of())) {
      QmpClient qmp = QmpClient.connect(s.socket(), LONG);
      qmp.close();
      assertThrows(QmpClosedException.class, () -> qmp.execute("query-pci"));
    }
  }

  @Test
  void events_interleavedWithARepliesAreKept(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of(
        "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\": \"RESET\","
            + " \"data\": {\"guest\": false}}", "{\"return\": {}, \"id\": \"{id}\"}"));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      qmp.execute("system_reset");
      assertEquals("RESET", qmp.awaitEvent("RESET", e -> true, SHORT).name());
    }
  }

  @Test
  void drainEvents_returnsThemInOrder(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of(
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": \"STOP\"}",
        "{\"timestamp\": {\"seconds\": 2, \"microseconds\": 0}, \"event\": \"RESUME\"}",
        "{\"return\": {}, \"id\": \"{id}\"}"));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      qmp.execute("cont");
      assertEquals(List.of("STOP", "RESUME"),
          qmp.drainEvents().stream().map(QmpEvent::name).toList());
    }
  }

  @Test
  void deviceDel_returnsWhenTheDeviceIsDeleted(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of(
        "{\"return\": {}, \"id\": \"{id}\"}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": \"DEVICE_DELETED\","
            + " \"data\": {\"path\": \"/machine/peripheral/gpu1/virtio-backend\"}}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 1}, \"event\": \"DEVICE_DELETED\","
            + " \"data\": {\"device\": \"gpu1\", \"path\": \"/machine/peripheral/gpu1\"}}"));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      qmp.deviceDel("gpu1", LONG);
      assertEquals("device_del", s.received().get(1).path("execute").asText());
    }
  }

  @Test
  void deviceDel_anotherDevicesDeletionDoesNotCount(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of(
        "{\"return\": {}, \"id\": \"{id}\"}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": \"DEVICE_DELETED\","
            + " \"data\": {\"device\": \"gpu2\", \"path\": \"/machine/peripheral/gpu2\"}}"));
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      QmpTimeoutException e = assertThrows(QmpTimeoutException.class,
          () -> qmp.deviceDel("gpu1", SHORT));
      assertTrue(e.getMessage().contains("gpu1"), e.getMessage());
    }
  }

  @Test
  void connect_peerThatIsNotQmpIsRefused(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, "(qemu) monitor prompt", c -> List.of())) {
      assertThrows(QmpException.class, () -> QmpClient.connect(s.socket(), SHORT));
    }
  }

  @Test
  void connect_missingSocketFailsNamingIt(@TempDir Path dir) {
    Path missing = dir.resolve("nothing.qmp");
    QmpException e = assertThrows(QmpException.class,
        () -> QmpClient.connect(missing, Duration.ofMillis(100)));
    assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
  }

  @Test
  void deviceAdd_withoutIdIsRefused(@TempDir Path dir) {
    try (FakeQmpServer s = FakeQmpServer.start(dir, c -> List.of());
        QmpClient qmp = QmpClient.connect(s.socket(), LONG)) {
      assertThrows(InvalidValueException.class,
          () -> qmp.deviceAdd(Map.of("driver", "vfio-pci")));
    }
  }
}
