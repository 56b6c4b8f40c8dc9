package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hostile input to the CLI (issue 20): every bad input exits 1 or 2 with one clear line on stderr
 * and no stack trace, and changes no file anywhere: the simulated host tree and its state
 * directory are snapshotted (content, link targets, file types) before and after.
 */
final class HostileInputTest {
  private Path root;
  private Path outside;

  @BeforeEach
  void writeHost() throws IOException {
    root = TempRoots.create("gpuvirt-hostile-");
    outside = TempRoots.create("gpuvirt-hostile-outside-");
    SimulatedHost.create(HostProfile.hgxB200(), root).close();
  }

  @AfterEach
  void delete() throws IOException {
    TempRoots.delete(root);
    TempRoots.delete(outside);
  }

  private CliRun cli(String... args) {
    return assertTimeoutPreemptively(Duration.ofSeconds(60), () -> CliRun.of(args));
  }

  private String[] withRoot(String... args) {
    String[] all = Arrays.copyOf(args, args.length + 2);
    all[args.length] = "--root";
    all[args.length + 1] = root.toString();
    return all;
  }

  /** Runs a bad command line and checks the whole contract; returns its stderr line. */
  private String refused(String... args) {
    Map<String, String> before = snapshot(root);
    CliRun run = cli(args);
    Map<String, String> after = snapshot(root);
    String err = run.err().strip();
    assertTrue((run.exitCode() == 1 || run.exitCode() == 2) && !err.isEmpty()
        && err.lines().count() == 1 && err.startsWith("gpuvirt")
        && !err.contains("Exception") && !err.contains("\tat "),
        "expected exit 1 or 2 and one line on stderr for " + Arrays.toString(args) + ", got "
            + run);
    if (!before.equals(after)) {
      Map<String, String> changed = new TreeMap<>(after);
      before.forEach((k, v) -> {
        if (v.equals(changed.get(k))) {
          changed.remove(k);
        } else if (!changed.containsKey(k)) {
          changed.put(k, "(deleted)");
        }
      });
      throw new AssertionError("files changed under the host root for " + Arrays.toString(args)
          + ": " + changed);
    }
    return err;
  }

  /** Every file under {@code dir}: its kind and content or link target. */
  static Map<String, String> snapshot(Path dir) {
    Map<String, String> files = new TreeMap<>();
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.toList()) {
        String key = dir.relativize(p).toString();
        if (Files.isSymbolicLink(p)) {
          files.put(key, "link " + Files.readSymbolicLink(p));
        } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          files.put(key, "dir");
        } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          files.put(key, "file " + Arrays.hashCode(Files.readAllBytes(p)) + " "
              + Files.size(p));
        } else {
          files.put(key, "special");
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return files;
  }

  // ---- a. no @FILE argument files ---------------------------------------------------------------

  @Test
  void teardown_ownerAtFileHoldingAnotherOwner_isRefusedAndTheOtherLeaseStays() throws Exception {
    assertEquals(0, cli(withRoot("provision", "--gpus", "1", "--owner", "victim",
        "--qemu-version", "10.1.0")).exitCode());
    Path file = Files.writeString(outside.resolve("F"), "victim\n");
    String err = refused(withRoot("teardown", "--owner", "@" + file));
    assertTrue(err.contains("invalid owner id '@" + file + "'")
        && LeaseLedger.open(root.resolve("var/lib/gpuvirt")).lease("victim").isPresent(), err);
  }

  @Test
  void provision_argumentFileWithOptions_isNotExpanded() throws Exception {
    Path file = Files.writeString(outside.resolve("args"), "--gpus\n1\n--owner\nvm-1\n");
    refused(withRoot("provision", "@" + file, "--qemu-version", "10.1.0"));
  }

  // ---- b. owner ids: the one rule, before anything else -----------------------------------------

  static final List<String> BAD_OWNERS = List.of("@vm", "-vm", ".vm", "vm 1", "vm\n1", "vm\u00e9",
      "\u0432\u043c", "v".repeat(129), "");

  @ParameterizedTest
  @ValueSource(strings = {"provision", "allocate", "teardown", "release", "leases", "qemu-args"})
  void owner_badIds_areRefusedByEveryCommandNamingTheRule(String command) {
    for (String owner : BAD_OWNERS) {
      List<String> args = new java.util.ArrayList<>(List.of(command, "--owner=" + owner));
      if (command.equals("provision") || command.equals("allocate")) {
        args.addAll(List.of("--gpus", "1"));
      }
      if (command.equals("provision")) {
        args.addAll(List.of("--qemu-version", "10.1.0"));
      }
      String err = refused(withRoot(args.toArray(String[]::new)));
      assertTrue(err.contains("--owner") && err.contains("invalid owner id")
          && err.contains("starting with a letter or digit"), err);
    }
  }

  @Test
  void owner_of128Characters_isAccepted() {
    CliRun run = cli(withRoot("leases", "--owner", "v".repeat(128)));
    assertEquals(1, run.exitCode(), run.toString()); // valid id, holds no lease
  }

  // ---- c. numbers: ASCII digits only --------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"\u0662", "\uff11", "+1", "-1", "0x1", "1.0", " 1", "1e0",
      "99999999999999999999", ""})
  void gpus_notAsciiDigits_isRefusedNamingTheOptionAndTheValue(String value) {
    String err = refused(withRoot("provision", "--gpus", value, "--owner", "vm-1",
        "--qemu-version", "10.1.0"));
    assertTrue(err.contains("--gpus") && err.contains("'" + Cli.printable(value) + "'"), err);
  }

  @ParameterizedTest
  @ValueSource(strings = {"\u0661", "+64", "\uff16\uff14"})
  void memory_notAsciiDigits_isRefusedNamingTheOption(String value) {
    String err = refused(withRoot("provision", "--gpus", "1", "--owner", "vm-1",
        "--qemu-version", "10.1.0", "--memory", value));
    assertTrue(err.contains("--memory"), err);
  }

  @Test
  void allocate_arabicIndicCount_isRefused() {
    assertTrue(refused(withRoot("allocate", "--gpus", "\u0662", "--owner", "vm-1"))
        .contains("--gpus"));
  }

  @Test
  void partitionsActivate_fullWidthId_isRefused() {
    refused("partitions", "activate", "\uff11", "--fabric", "simulated", "--root",
        root.toString());
  }

  // ---- d. bounded reads ---------------------------------------------------------------------------

  /** The state directory of a host in use: its lock file exists (taking it is not a change). */
  private Path stateDirectory() throws IOException {
    Path state = Files.createDirectories(root.resolve("var/lib/gpuvirt"));
    if (!Files.exists(state.resolve("leases.lock"))) {
      Files.createFile(state.resolve("leases.lock"));
    }
    return state;
  }

  @Test
  void leases_ledgerLinkedToDevZero_isRefusedNotReadForever() throws Exception {
    Path state = stateDirectory();
    Files.createSymbolicLink(state.resolve("leases.json"), Path.of("/dev/zero"));
    assertTrue(refused(withRoot("leases")).contains("character device"));
  }

  @Test
  void leases_danglingLedgerLink_isRefusedNotAnEmptyLedger() throws Exception {
    Path state = stateDirectory();
    Files.createSymbolicLink(state.resolve("leases.json"), outside.resolve("gone.json"));
    assertTrue(refused(withRoot("leases")).contains("dangling"));
  }

  @Test
  void topology_sysfsAttributeLinkedToDevZero_isRefusedByName() throws Exception {
    Path numa = firstGpuDir().resolve("numa_node");
    Files.delete(numa);
    Files.createSymbolicLink(numa, Path.of("/dev/zero"));
    String err = refused(withRoot("topology"));
    assertTrue(err.contains("numa_node") && err.contains("character device"), err);
  }

  @Test
  void topology_sysfsFifo_isRefusedWithoutHanging() throws Exception {
    Path numa = firstGpuDir().resolve("numa_node");
    Files.delete(numa);
    Process p = new ProcessBuilder("mkfifo", numa.toString()).start();
    org.junit.jupiter.api.Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo is not available");
    assertTrue(refused(withRoot("topology")).contains("FIFO"));
  }

  // ---- e. hung programs ---------------------------------------------------------------------------

  @Test
  void provision_qemuThatNeverExits_isKilledAtItsTimeoutAndRefused() throws Exception {
    Path hang = outside.resolve("qemu-hangs");
    Files.writeString(hang, "#!/bin/sh\nsleep 100000\n");
    Files.setPosixFilePermissions(hang, PosixFilePermissions.fromString("rwx------"));
    String err = refused(withRoot("provision", "--gpus", "1", "--owner", "vm-1",
        "--qemu", hang.toString(), "--qemu-timeout", "1"));
    assertTrue(err.contains(hang.toString()) && err.contains("timeout of 1 s"), err);
  }

  // ---- f. loose sysfs formats ---------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"vendor=0x10", "device=0x29", "class=0x0302", "revision=0x1",
      "subsystem_vendor=0x10DE"})
  void topology_attributeNotInTheKernelsFormat_isRefusedNamingTheFile(String change)
      throws Exception {
    String[] kv = change.split("=");
    Files.writeString(firstGpuDir().resolve(kv[0]), kv[1] + "\n");
    String err = refused(withRoot("topology"));
    assertTrue(err.contains("/" + kv[0]) && err.contains("expected 0x"), err);
  }

  @ParameterizedTest
  @ValueSource(strings = {"../../../../../bus/pci/drivers/bogus", "driver", "vendor"})
  void topology_driverLinkNotToALoadedDriver_isRefusedNamingTheLink(String target)
      throws Exception {
    Path link = firstGpuDir().resolve("driver");
    Files.deleteIfExists(link);
    Files.createSymbolicLink(link, Path.of(target));
    String err = refused(withRoot("topology"));
    assertTrue(err.contains("/driver") && err.contains("/sys/bus/pci/drivers/NAME"), err);
  }

  // ---- g. no writes before the root is known to be a sysfs tree ------------------------------

  @Test
  void provision_emptyRoot_isRefusedWritingNothingInTheCurrentDirectory() {
    Path cwd = Path.of("").toAbsolutePath();
    List<String> before = names(cwd);
    CliRun run = cli("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", "10.1.0",
        "--root", "");
    assertTrue(run.exitCode() == 2 && run.err().strip().lines().count() == 1
        && names(cwd).equals(before) && !Files.exists(cwd.resolve("var")), run.toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"provision", "allocate", "leases", "release", "status", "teardown"})
  void anyCommand_rootThatIsNotASysfsTree_isRefusedWritingNothing(String command) {
    List<String> args = new java.util.ArrayList<>(List.of(command, "--root", outside.toString()));
    if (!command.equals("leases") && !command.equals("status")) {
      args.addAll(List.of("--owner", "vm-1"));
    }
    if (command.equals("provision") || command.equals("allocate")) {
      args.addAll(List.of("--gpus", "1"));
    }
    Map<String, String> before = snapshot(outside);
    CliRun run = cli(args.toArray(String[]::new));
    assertTrue(run.exitCode() == 2 && run.err().contains("is not a sysfs tree")
        && snapshot(outside).equals(before), run.toString());
  }

  private static List<String> names(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The real directory of the host's first NVIDIA GPU. */
  private Path firstGpuDir() throws IOException {
    try (Stream<Path> s = Files.list(root.resolve("sys/bus/pci/devices"))) {
      for (Path p : s.sorted().toList()) {
        if (Files.readString(p.resolve("vendor")).equals("0x10de\n")
            && Files.readString(p.resolve("class")).startsWith("0x0302")) {
          return p.toRealPath();
        }
      }
    }
    throw new IllegalStateException("no GPU in the simulated host");
  }
}
