package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gpuvirt vgpu} on a simulated L40S vGPU host. */
final class VgpuCommandTest {
  @TempDir Path dir;
  private Path root;

  @BeforeEach
  void simulate() {
    root = dir.resolve("host");
    assertEquals(Cli.OK, GpuvirtCli.run("simulate", "--profile", "l40s-vgpu", "--out",
        root.toString()));
  }

  private CliRun vgpu(String... args) {
    String[] all = new String[args.length + 3];
    all[0] = "vgpu";
    System.arraycopy(args, 0, all, 1, args.length);
    all[args.length + 1] = "--root";
    all[args.length + 2] = root.toString();
    return CliRun.of(all);
  }

  @Test
  void types_beforeEnableSaysTheVfsAreNotEnabled() {
    CliRun r = vgpu("types");
    assertTrue(r.exitCode() == Cli.OK && r.out().contains("0000:3d:00.0 [10de:26b9] NUMA 0")
        && r.out().contains("(not enabled: gpuvirt vgpu enable 0000:3d:00.0)"), r.out() + r.err());
  }

  @Test
  void enableAll_thenTypesListsWhatIsCreatableNow() {
    CliRun enabled = vgpu("enable", "--all");
    CliRun types = vgpu("types", "--gpu", "0000:bd:00.0");
    assertEquals(List.of(Cli.OK, true, true), List.of(enabled.exitCode(),
        enabled.out().contains("0000:bd:00.0: 32 VFs enabled"),
        types.out().contains("1147  NVIDIA L40S-1Q") && types.out().contains("creatable now")),
        enabled.out() + enabled.err() + types.out());
  }

  @Test
  void enable_twiceIsIdempotent() {
    vgpu("enable", "0000:3d:00.0");
    CliRun again = vgpu("enable", "0000:3d:00.0");
    assertTrue(again.exitCode() == Cli.OK && again.out().contains("32 VFs enabled"),
        again.out() + again.err());
  }

  @Test
  void disable_removesTheVfs() {
    vgpu("enable", "0000:3d:00.0");
    CliRun off = vgpu("disable", "0000:3d:00.0");
    CliRun types = vgpu("types", "--gpu", "0000:3d:00.0");
    assertTrue(off.exitCode() == Cli.OK && types.out().contains("VFs 0/32"),
        off.out() + off.err() + types.out());
  }

  @Test
  void enable_badAddressIsABadArgument() {
    CliRun r = vgpu("enable", "3d:00.0/../x");
    assertEquals(Cli.ERROR, r.exitCode(), r.out() + r.err());
  }

  @Test
  void provision_thenTeardownLikeEveryLease_leavesTheVfWithoutAType() throws Exception {
    vgpu("enable", "--all");
    CliRun p = vgpu("provision", "--type", "L40S-1Q", "--owner", "vm-7");
    CliRun t = CliRun.of("teardown", "--owner", "vm-7", "--root", root.toString());
    String current = java.nio.file.Files.readString(root.resolve(
        "sys/bus/pci/devices/0000:3d:00.4/nvidia/current_vgpu_type"));
    assertEquals(List.of(Cli.OK, true, Cli.OK, "0\n"), List.of(p.exitCode(),
        p.out().contains("vm-7: vGPU 1147 (NVIDIA L40S-1Q) on VF 0000:3d:00.4 of 0000:3d:00.0"),
        t.exitCode(), current), p.out() + p.err() + t.out() + t.err());
  }

  @Test
  void provision_unknownTypeIsRefused() {
    vgpu("enable", "--all");
    CliRun p = vgpu("provision", "--type", "L40S-99Z", "--owner", "vm-7");
    assertTrue(p.exitCode() == Cli.REFUSED && p.err().contains("has no type L40S-99Z"),
        p.out() + p.err());
  }

  @Test
  void provisionWithVgpu_isTheSameAsVgpuProvision_andLeasesAndStatusShowTheVgpu() {
    vgpu("enable", "--all");
    CliRun p = CliRun.withRoot(root, "provision", "--vgpu", "L40S-1Q", "--owner", "vm-8");
    CliRun leases = CliRun.withRoot(root, "leases");
    CliRun status = CliRun.withRoot(root, "status");

    assertTrue(p.exitCode() == Cli.OK && p.out().contains("vm-8: vGPU 1147 (NVIDIA L40S-1Q) on VF")
        && leases.out().lines().anyMatch(l -> l.startsWith("vm-8 ")
            && l.contains("vGPU NVIDIA L40S-1Q on 0000:"))
        && status.out().contains("vGPU NVIDIA L40S-1Q on 0000:"),
        p + "\n" + leases + "\n" + status);
  }

  @Test
  void provisionJson_printsTheLeaseWithItsVgpuAndTheQemuDevices() throws Exception {
    vgpu("enable", "--all");
    CliRun p = vgpu("provision", "--type", "L40S-1Q", "--owner", "vm-9", "--json");

    com.fasterxml.jackson.databind.JsonNode doc = new com.fasterxml.jackson.databind
        .ObjectMapper().readTree(p.out());
    assertTrue(p.exitCode() == Cli.OK && doc.path("lease").path("owner").asText().equals("vm-9")
        && doc.path("lease").path("vgpus").size() == 1
        && doc.path("qemu").toString().contains("vfio-pci,host=0000:"), p.toString());
  }

  @Test
  void provisionWithBothGpusAndVgpu_isABadArgument() {
    CliRun p = CliRun.withRoot(root, "provision", "--gpus", "1", "--vgpu", "L40S-1Q", "--owner",
        "vm-1");
    assertEquals(Cli.ERROR, p.exitCode(), p.toString());
  }

  @Test
  void onTheLegacyMdevHost_typesProvisionStatusAndTeardown() {
    Path t4 = dir.resolve("t4");
    assertEquals(Cli.OK, GpuvirtCli.run("simulate", "--profile", "t4-mdev", "--out",
        t4.toString()));
    CliRun types = CliRun.withRoot(t4, "vgpu", "types", "--gpu", "0000:3b:00.0");
    CliRun p = CliRun.withRoot(t4, "provision", "--vgpu", "T4-4Q", "--owner", "vm-7");
    CliRun status = CliRun.withRoot(t4, "status");
    CliRun after = CliRun.withRoot(t4, "vgpu", "types", "--gpu", "0000:3b:00.0", "--json");
    CliRun t = CliRun.withRoot(t4, "teardown", "--owner", "vm-7");
    CliRun gone = CliRun.withRoot(t4, "vgpu", "types", "--gpu", "0000:3b:00.0");
    String uuid = io.gpuvirt.core.vgpu.VgpuProvisioner.mdevUuid("vm-7").toString();
    assertEquals(List.of(true, true, true, true, true, Cli.OK, true), List.of(
        types.out().contains("legacy mdev, 0 mediated devices")
            && types.out().contains("232   GRID T4-4Q") && types.out().contains("creatable now"),
        p.out().contains("vm-7: vGPU 232 (GRID T4-4Q) on mediated device " + uuid)
            && p.out().contains("sysfsdev=/sys/bus/mdev/devices/" + uuid)
            && p.out().contains("qemu: -uuid " + uuid),
        status.out().contains("vGPU GRID T4-4Q on " + uuid),
        after.out().contains("\"uuid\" : \"" + uuid + "\"") || after.out().contains(
            "\"uuid\":\"" + uuid + "\""),
        true, t.exitCode(), gone.out().contains("legacy mdev, 0 mediated devices")),
        types + "\n" + p + "\n" + status + "\n" + after + "\n" + t + "\n" + gone);
  }

  @Test
  void enableHeterogeneous_thenTypesSaysSoAndTwoSizesShareTheGpu() {
    CliRun on = vgpu("enable", "0000:3d:00.0", "--heterogeneous");
    CliRun types = vgpu("types", "--gpu", "0000:3d:00.0");
    CliRun a = vgpu("provision", "--type", "L40S-3B", "--owner", "vm-1", "--numa", "0");
    CliRun b = vgpu("provision", "--type", "L40S-1Q", "--owner", "vm-2", "--numa", "0");
    assertEquals(List.of(true, true, Cli.OK, true), List.of(
        on.out().contains("0000:3d:00.0: 32 VFs enabled, heterogeneous"),
        types.out().contains("VFs 32/32, heterogeneous mode"), a.exitCode(),
        b.exitCode() == Cli.OK && b.out().contains("of 0000:3d:00.0")),
        on + "\n" + types + "\n" + a + "\n" + b);
  }
}
