package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.examples.Tools;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code qemu-args --format shell} is a command a user pastes into a shell: with the real probed
 * QEMU and the host's OVMF it gets past every option, the firmware and the disk, and fails only
 * at the passed-through host device this machine does not have.
 */
final class QemuShellCommandTest {
  private static final List<String> OPTION_ERRORS = List.of("Property '", "Invalid parameter",
      "expects", "Parameter '", "Unsupported", "invalid", "Invalid", "can't apply global",
      "must be", "Could not open", "could not load", "pflash", "firmware");

  private Path root;

  @BeforeEach
  void writeHost() throws IOException {
    root = TempRoots.create("gpuvirt-shell-");
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200(), root)) {
      // written
    }
  }

  @AfterEach
  void deleteHost() throws IOException {
    TempRoots.delete(root);
  }

  private CliRun run(String... args) {
    return CliRun.withRoot(root, args);
  }

  /** The shell command for vm-2, under TCG (this machine has no usable KVM), with a raw disk. */
  private CliRun shellCommand(Path disk) {
    Tools.require("qemu-system-x86_64");
    CliRun provision = run("provision", "--gpus", "2", "--owner", "vm-2");
    assertEquals(0, provision.exitCode(), provision.toString());
    return run("qemu-args", "--owner", "vm-2", "--format", "shell", "--accel", "tcg",
        "--cpu-model", "max", "--memory", "512M", "--cpus", "2", "--disk", disk.toString());
  }

  private Path rawDisk() throws IOException {
    Path disk = root.resolve("disk.img");
    Files.write(disk, new byte[1024 * 1024]);
    return disk;
  }

  @Test
  void formatShell_pastedIntoAShell_failsOnlyAtTheMissingHostDevice() throws IOException {
    CliRun shell = shellCommand(rawDisk());
    CommandResult r = CommandRunner.system().run(Command.of("bash", "-c", shell.out())
        .withTimeout(Duration.ofSeconds(60)));
    String err = r.stderr();
    boolean hostDevice = err.contains("no such host device")
        || err.contains("failed to open /sys/bus/pci/devices/");
    boolean optionError = OPTION_ERRORS.stream().anyMatch(err::contains);
    assertTrue(r.exitCode() != 0 && hostDevice && !optionError,
        "exit " + r.exitCode() + ", stderr: " + err + "\ncommand:\n" + shell.out());
  }

  @Test
  void formatShell_printsOneCommandStartingWithTheProbedBinary() throws IOException {
    CliRun shell = shellCommand(rawDisk());
    List<String> lines = shell.out().lines().toList();
    boolean continued = lines.subList(0, lines.size() - 1).stream().allMatch(l -> l.endsWith(" \\"));
    assertTrue(shell.exitCode() == 0 && lines.get(0).startsWith("qemu-system-x86_64 ")
        && continued && !lines.get(lines.size() - 1).endsWith("\\")
        && shell.out().contains("if=pflash") && shell.out().contains("-smp 2")
        && shell.out().contains("-m 512") && shell.out().contains("format=raw")
        && !shell.out().contains("#"), shell.toString());
  }

  @Test
  void qemuBinary_givenAsPath_isTheCommandsProgram() throws IOException {
    Tools.require("qemu-system-x86_64");
    Path qemu = Stream.of(System.getenv("PATH").split(":"))
        .map(d -> Path.of(d, "qemu-system-x86_64")).filter(Files::isExecutable).findFirst()
        .orElseThrow();
    run("provision", "--gpus", "1", "--owner", "vm-1");
    CliRun shell = run("qemu-args", "--owner", "vm-1", "--format", "shell", "--qemu",
        qemu.toString());
    assertTrue(shell.exitCode() == 0 && shell.out().startsWith(qemu + " \\\n"),
        shell.toString());
  }

  @Test
  void qemuVersion_malformed_saysTheVersionTextIsMalformed() {
    run("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", "10.1.0");
    CliRun r = run("qemu-args", "--owner", "vm-1", "--qemu-version", "banana");
    assertTrue(r.exitCode() == 2 && r.err().contains("--qemu-version 'banana' is malformed")
        && !r.err().contains("printed"), r.toString());
  }

  @Test
  void qemuVersion_given_isNotCalledAssumed() {
    run("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", "10.1.0");
    CliRun r = run("qemu-args", "--owner", "vm-1", "--qemu-version", "8.2.2");
    assertTrue(r.exitCode() == 0 && r.out().contains("QEMU 8.2.2 from --qemu-version")
        && !r.out().contains("assumed") && !r.out().contains("pass --qemu-version"),
        r.toString());
  }

  @Test
  void text_planIsItsOwnSectionAfterTheCommand() {
    run("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", "10.1.0");
    CliRun r = run("qemu-args", "--owner", "vm-1", "--qemu-version", "10.1.0");
    String out = r.out();
    int plan = out.indexOf("\nplan:\n");
    assertTrue(r.exitCode() == 0 && plan > 0 && !out.substring(0, plan).contains("#")
        && out.substring(plan).contains("FIRMWARE"), out);
  }

  @Test
  void planOption_printsOnlyThePlan() {
    run("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", "10.1.0");
    CliRun r = run("qemu-args", "--owner", "vm-1", "--qemu-version", "10.1.0", "--plan");
    assertFalse(r.out().contains("vfio-pci,host="), r.out());
  }
}
