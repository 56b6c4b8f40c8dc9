package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MIG slices for VMs from the command line, each command a fresh process's view: on the simulated
 * HGX H200 4-GPU board an operator enables the VFs, carves GPU 0 into seven 1g.18gb instances with
 * a mig-parted file, and leases MIG-backed vGPUs (H200X-1-18C) that QEMU gets as VFs.
 */
final class MigBackedVgpuCommandsTest {
  private static final String CONFIG = "version: v1\n"
      + "mig-configs:\n"
      + "  gpu0-1g.18gb:\n"
      + "    - device-filter: [\"0x233510DE\"]\n"
      + "      devices: [0]\n"
      + "      mig-enabled: true\n"
      + "      mig-devices:\n"
      + "        \"1g.18gb\": 7\n"
      + "    - devices: [1, 2, 3]\n"
      + "      mig-enabled: false\n";

  @TempDir Path dir;
  private Path root;
  private Path file;

  @BeforeEach
  void simulate() throws IOException {
    root = dir.resolve("h200");
    assertEquals(Cli.OK, GpuvirtCli.run("simulate", "--profile", "h200-vgpu", "--out",
        root.toString()));
    file = dir.resolve("mig.yaml");
    Files.writeString(file, CONFIG);
  }

  private CliRun run(String... args) {
    return CliRun.withRoot(root, args);
  }

  /** Whether {@code vgpu types} marks the type with this id "creatable now". */
  private static boolean creatableNow(CliRun types, String id) {
    return types.out().lines().anyMatch(l -> l.strip().startsWith(id + " ")
        && l.contains("creatable now"));
  }

  @Test
  void vgpuTypes_followMigMode_andProvisionLeasesASliceThatQemuGetsAsAVf() {
    CliRun enable = run("vgpu", "enable", "0000:18:00.0");
    CliRun timeSliced = run("vgpu", "types", "--gpu", "0000:18:00.0");
    CliRun apply = run("mig", "apply", "-f", file.toString(), "-c", "gpu0-1g.18gb");
    CliRun migBacked = run("vgpu", "types", "--gpu", "0000:18:00.0");
    CliRun p = run("provision", "--vgpu", "H200X-1-18C", "--owner", "vm-9", "--json");
    CliRun status = run("status");
    CliRun refusedApply = run("mig", "apply", "-f", file.toString(), "-c", "gpu0-1g.18gb");
    CliRun teardown = run("teardown", "--owner", "vm-9");

    assertEquals(List.of(Cli.OK, Cli.OK, Cli.OK, Cli.OK, Cli.OK), List.of(enable.exitCode(),
        timeSliced.exitCode(), apply.exitCode(), p.exitCode(), teardown.exitCode()),
        enable + "\n" + apply + "\n" + p + "\n" + teardown);
    assertEquals(List.of(true, false), List.of(creatableNow(timeSliced, "1428"),
        creatableNow(timeSliced, "1414")), timeSliced.out());
    assertEquals(List.of(false, true), List.of(creatableNow(migBacked, "1428"),
        creatableNow(migBacked, "1414")), migBacked.out());
    assertTrue(p.out().contains("vfio-pci,host=0000:18:00.4"), p.out());
    assertTrue(status.out().contains("vGPU NVIDIA H200X-1-18C on 0000:"), status.out());
    // The apply would not change GPU 0 (it matches already): a re-apply is a no-op, not a refusal.
    assertEquals(Cli.OK, refusedApply.exitCode(), refusedApply.toString());
  }

  @Test
  void aSliceWithMigOff_isRefusedWithNvidiasHint() {
    run("vgpu", "enable", "0000:18:00.0");

    CliRun p = run("provision", "--vgpu", "H200X-1-18C", "--owner", "vm-9");

    assertEquals(Cli.REFUSED, p.exitCode(), p.toString());
    assertTrue(p.err().contains("ensure MIG mode is enabled and enough GPU instances have been "
        + "created"), p.err());
  }

  @Test
  void migOffWhileASliceIsLeased_isRefusedNamingTheOwner() throws IOException {
    run("vgpu", "enable", "0000:18:00.0");
    run("mig", "apply", "-f", file.toString(), "-c", "gpu0-1g.18gb");
    run("provision", "--vgpu", "H200X-1-18C", "--owner", "vm-9");
    Path off = dir.resolve("off.yaml");
    Files.writeString(off, "version: v1\nmig-configs:\n  all-disabled:\n    - devices: all\n"
        + "      mig-enabled: false\n");

    CliRun apply = run("mig", "apply", "-f", off.toString(), "-c", "all-disabled");

    assertEquals(Cli.REFUSED, apply.exitCode(), apply.toString());
    assertTrue(apply.err().contains("vm-9"), apply.err());
  }
}
