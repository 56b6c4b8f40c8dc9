package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.examples.Tools;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code provision --format libvirt} and {@code qemu-args --format libvirt}. */
final class LibvirtFormatCommandTest {
  private Path root;

  private void host(HostProfile profile) throws IOException {
    root = TempRoots.create("gpuvirt-libvirt-");
    SimulatedHost.create(profile, root).close();
  }

  @AfterEach
  void delete() throws IOException {
    TempRoots.delete(root);
  }

  private static void assertLibvirtAccepts(String xml) throws IOException {
    Tools.require("virt-xml-validate");
    Path file = Files.createTempFile("gpuvirt-domain-", ".xml");
    try {
      Files.writeString(file, xml);
      CommandResult r = CommandRunner.system().run(Command.of("virt-xml-validate",
          file.toString(), "domain"));
      assertEquals(0, r.exitCode(), r.stderr() + xml);
    } finally {
      Files.delete(file);
    }
  }

  @Test
  void provision_formatLibvirt_printsOnlyADomainLibvirtAccepts() throws IOException {
    host(HostProfile.hgxB200());

    CliRun run = CliRun.withRoot(root, "provision", "--gpus", "2", "--owner", "vm-42",
        "--qemu-version", "10.1.0", "--format", "libvirt");

    assertTrue(run.exitCode() == 0 && run.out().startsWith("<domain ")
        && run.out().strip().endsWith("</domain>") && run.out().contains("<name>vm-42</name>"),
        run.toString());
    assertLibvirtAccepts(run.out());
  }

  @Test
  void qemuArgs_formatLibvirt_rendersTheLeaseAsADomain() throws IOException {
    host(HostProfile.hgxB200());
    assertEquals(0, CliRun.withRoot(root, "provision", "--gpus", "4", "--owner", "vm-7",
        "--qemu-version", "10.1.0").exitCode());

    CliRun run = CliRun.withRoot(root, "qemu-args", "--owner", "vm-7", "--qemu-version",
        "10.1.0", "--format", "libvirt");

    assertTrue(run.exitCode() == 0 && run.out().startsWith("<domain ")
        && run.out().split("<hostdev ", -1).length - 1 == 4, run.toString());
    assertLibvirtAccepts(run.out());
  }

  @Test
  void provision_formatLibvirtOfAGpuBehindVmd_isRefusedAndRolledBack() throws IOException {
    host(HostProfile.vmd());

    CliRun run = CliRun.withRoot(root, "provision", "--gpus", "1", "--owner", "vm-1",
        "--qemu-version", "10.1.0", "--format", "libvirt");

    assertTrue(run.exitCode() == 1 && run.out().isEmpty() && run.err().contains("16-bit")
        && LeaseLedger.open(root.resolve("var/lib/gpuvirt")).leases().isEmpty(),
        run.toString());
  }

  @Test
  void provision_unknownFormat_isABadArgument() throws IOException {
    host(HostProfile.hgxB200());

    CliRun run = CliRun.withRoot(root, "provision", "--gpus", "1", "--owner", "vm-1",
        "--format", "xml");

    assertTrue(run.exitCode() == 2 && run.err().contains("--format 'xml'"), run.toString());
    assertEquals(List.of(), LeaseLedger.open(root.resolve("var/lib/gpuvirt")).leases());
  }
}
