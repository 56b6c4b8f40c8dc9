package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The README's main job, exactly as a new user runs it (no flags: a fresh simulated HGX B200 in the
 * temp directory), in a separate JVM whose temp directory is the test's.
 */
final class MainJobTest {
  private Path tmp;

  @BeforeEach
  void createTmp() throws IOException {
    tmp = TempRoots.create("gpuvirt-mainjob-");
  }

  @AfterEach
  void deleteTmp() throws IOException {
    TempRoots.delete(tmp);
  }

  private CommandResult gpuvirt(String... args) {
    List<String> argv = new ArrayList<>();
    argv.add(ProcessHandle.current().info().command().orElse("java"));
        argv.add("-cp");
    argv.add(System.getProperty("java.class.path"));
    argv.add(GpuvirtCli.class.getName());
    argv.addAll(List.of(args));
    // The demo host lives under $TMPDIR, as README says.
    return CommandRunner.system().run(Command.of(argv).withTimeout(Duration.ofMinutes(2))
        .withEnvironment(java.util.Map.of("TMPDIR", tmp.toString())));
  }

  @Test
  void provisionThenTeardown_withNoFlags_usesAFreshSimulatedB200() {
    CommandResult provision = gpuvirt("provision", "--gpus", "4", "--owner", "vm-42");
    CommandResult teardown = gpuvirt("teardown", "--owner", "vm-42");
    String out = provision.stdout();
    assertEquals(List.of(0, 0), List.of(provision.exitCode(), teardown.exitCode()),
        provision.stderr() + teardown.stderr());
    assertTrue(out.contains("simulated hgx-b200 at " + tmp.resolve("gpuvirt-demo/hgx-b200")
        + " (created fresh)") && out.contains("partition") && out.contains("vfio-pci,host=")
        && teardown.stdout().contains("vm-42 torn down"), out + teardown.stdout());
  }

  @Test
  void teardown_withNoFlagsAndNoDemoHost_worksOnThisHostWithoutCreatingADemoHost() {
    CommandResult teardown = gpuvirt("teardown", "--owner", "vm-42");
    assertTrue(teardown.stdout().contains("host root /")
        && !Files.exists(tmp.resolve("gpuvirt-demo")), teardown.stdout() + teardown.stderr());
  }

  @Test
  void leasesAndQemuArgs_afterProvisionWithNoFlags_seeTheLeaseOnTheDemoHost() {
    CommandResult provision = gpuvirt("provision", "--gpus", "4", "--owner", "vm-42");
    CommandResult qemuArgs = gpuvirt("qemu-args", "--owner", "vm-42");
    CommandResult leases = gpuvirt("leases");
    CommandResult status = gpuvirt("status");
    assertTrue(provision.exitCode() == 0 && qemuArgs.exitCode() == 0
        && qemuArgs.stdout().contains("vfio-pci,host=") && leases.stdout().contains("vm-42")
        && status.stdout().contains("vm-42")
        && leases.stderr().contains("using the simulated demo host at "
            + tmp.resolve("gpuvirt-demo/hgx-b200")), qemuArgs + "\n" + leases + "\n" + status);
  }
}
