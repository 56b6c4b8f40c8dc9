package io.gpuvirt.examples.cli;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.qemu.command.LeasePassthrough;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options that say which QEMU the command line is for. With {@code --qemu BIN} the binary is
 * probed (version, machines, device properties); with {@code --qemu-version} its capabilities are
 * assumed from the version alone; with neither, {@code qemu-system-x86_64} is probed when it is on
 * PATH, else version {@value #ASSUMED_VERSION} is assumed (and the output says so).
 */
final class QemuOptions {
  static final String ASSUMED_VERSION = "10.1.0";

  @Option(names = "--qemu", paramLabel = "BIN",
      description = "QEMU binary to probe for its version and properties.")
  String binary;

  @Option(names = "--qemu-version", paramLabel = "X.Y.Z",
      description = "Build for this QEMU version without probing a binary.")
  String version;

  @Option(names = "--memory-gib", paramLabel = "N", defaultValue = "64",
      description = "Guest memory in GiB (default: ${DEFAULT-VALUE}).")
  long memoryGib;

  @Option(names = "--qemu-timeout", paramLabel = "SECONDS", defaultValue = "30",
      description = "How long each run of the QEMU binary while probing may take before it is"
          + " killed (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  /** What the capabilities came from, for output. */
  String source;
  private QemuCapabilities capabilities;

  /** The capabilities, probed or assumed once. */
  QemuCapabilities capabilities() {
    if (capabilities == null) {
      capabilities = findCapabilities();
    }
    return capabilities;
  }

  private QemuCapabilities findCapabilities() {
    if (memoryGib <= 0) {
      throw new InvalidValueException("--memory-gib must be at least 1, was " + memoryGib);
    }
    if (timeoutSeconds <= 0) {
      throw new InvalidValueException("--qemu-timeout must be at least 1 second, was "
          + timeoutSeconds);
    }
    if (binary != null && version != null) {
      throw new InvalidValueException("give --qemu or --qemu-version, not both");
    }
    if (binary != null) {
      source = "probed " + binary;
      return QemuProbe.probe(CommandRunner.system(), binary, List.of(), timeout());
    }
    if (version == null) {
      try {
        QemuCapabilities probed = QemuProbe.probe(CommandRunner.system(),
            QemuCommandBuilder.DEFAULT_BINARY, List.of(), timeout());
        source = "probed " + QemuCommandBuilder.DEFAULT_BINARY + " on PATH";
        return probed;
      } catch (CommandException e) {
        if (e.timedOut()) {
          throw e; // installed but hung: never guess past a program that does not answer
        }
        // Not installed here (a control host, a CI machine): assume a version and say so.
      }
    }
    String assumed = version == null ? ASSUMED_VERSION : version;
    source = "assumed QEMU " + assumed + " (not probed; pass --qemu BIN to probe the binary the"
        + " VM will run, or --qemu-version X.Y.Z)";
    return QemuCapabilities.assumed(QemuVersion.parse(assumed));
  }

  private java.time.Duration timeout() {
    return java.time.Duration.ofSeconds(timeoutSeconds);
  }

  /** The QEMU command line for a lease's devices. */
  QemuArgs render(Lease lease) {
    return QemuCommandBuilder.forQemu(capabilities()).memoryMiB(memoryGib * 1024)
        .devices(LeasePassthrough.of(lease)).build();
  }



  /**
   * The argv one option per line: an option and its value on one line ({@code -device
   * vfio-pci,...}), as an operator reads it. The argv itself stays a list of separate elements.
   */
  static List<String> optionLines(List<String> argv) {
    List<String> lines = new java.util.ArrayList<>();
    for (int i = 0; i < argv.size(); i++) {
      String a = argv.get(i);
      boolean takesValue = a.startsWith("-") && i + 1 < argv.size()
          && !argv.get(i + 1).startsWith("-");
      if (i > 0 && takesValue) {
        lines.add(a + " " + argv.get(++i));
      } else {
        lines.add(a);
      }
    }
    return lines;
  }
}
