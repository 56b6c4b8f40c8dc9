package io.gpuvirt.qemu.testing;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.QemuVersion;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * Debian's QEMU 7.2.22 as recorded in {@code src/test/resources/qemu-7.2}: a scripted
 * {@link CommandRunner} that answers the probe's runs with the recorded outputs.
 */
public final class RecordedQemu {
  private RecordedQemu() {}

  /** A runner that answers {@code --version}, {@code -machine help}, {@code -accel help} and
   * {@code -device T,help} from the recording, and "not found" for other device types. */
  public static CommandRunner runner() {
    return command -> {
      List<String> a = command.argv().subList(1, command.argv().size());
      if (a.equals(List.of("--version"))) {
        return ok(command, resource("version.txt"));
      }
      if (a.equals(List.of("-machine", "help"))) {
        return ok(command, resource("machine-help.txt"));
      }
      if (a.equals(List.of("-accel", "help"))) {
        return ok(command, resource("accel-help.txt"));
      }
      if (a.equals(List.of("-object", "help"))) {
        return ok(command, resource("object-help.txt"));
      }
      if (a.size() == 2 && a.get(0).equals("-device") && a.get(1).endsWith(",help")) {
        String type = a.get(1).substring(0, a.get(1).length() - ",help".length());
        String out = resourceOrNull(type + "-help.txt");
        if (out == null) {
          return new CommandResult(command.argv(), 0, "",
              "qemu-system-x86_64: -device " + type + ",help: Device '" + type + "' not found\n",
              Duration.ofMillis(5), false);
        }
        return ok(command, out);
      }
      throw new AssertionError("unexpected run " + command.argv());
    };
  }

  /** The recorded 7.2 capabilities. */
  public static QemuCapabilities capabilities() {
    return QemuProbe.probe(runner(), Tools.QEMU);
  }

  /** The recorded capabilities under another version number (8.2, 10.1 for policy tests). */
  public static QemuCapabilities capabilities(QemuVersion version) {
    QemuCapabilities c = capabilities();
    QemuCapabilities.Builder b = QemuCapabilities.builder(version).machines(c.machines())
        .accelerators(c.accelerators());
    for (String type : c.probedDevices()) {
      b.device(type, c.deviceProperties(type).orElseThrow());
    }
    return b.build();
  }

  /** The recorded capabilities without one property of one device type. */
  public static QemuCapabilities without(QemuCapabilities c, String type, String property) {
    return c.toBuilder().device(type, c.deviceProperties(type).orElseThrow().stream()
        .filter(p -> !p.equals(property)).toList()).build();
  }

  /** A recorded output. */
  public static String resource(String name) {
    String s = resourceOrNull(name);
    if (s == null) {
      throw new AssertionError("missing test resource qemu-7.2/" + name);
    }
    return s;
  }

  private static String resourceOrNull(String name) {
    try (InputStream in = RecordedQemu.class.getResourceAsStream("/qemu-7.2/" + name)) {
      return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static CommandResult ok(Command command, String stdout) {
    return new CommandResult(command.argv(), 0, stdout, "", Duration.ofMillis(5), false);
  }
}
