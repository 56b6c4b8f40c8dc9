package io.gpuvirt.testkit.doctor;

import static io.gpuvirt.testkit.doctor.Findings.finding;
import static io.gpuvirt.testkit.doctor.Findings.fix;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.doctor.Finding;
import io.gpuvirt.core.doctor.Fix;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.doctor.HostDoctor;
import io.gpuvirt.core.doctor.ReadinessReport;
import io.gpuvirt.core.doctor.Severity;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link HostDoctor} on the simulated presets: findings, severities and the exact fixes. */
final class HostDoctorTest {
  private static final GpuDriverPolicy STATIC = GpuDriverPolicy.STATIC_VFIO;
  private static final GpuDriverPolicy REBIND = GpuDriverPolicy.REBIND_PER_VM;

  private static ReadinessReport examine(HostProfile profile, GpuDriverPolicy policy) {
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      return HostDoctor.examine(host.sysfs(), policy);
    }
  }

  private static void bindAllGpus(SimulatedHost host) {
    List<PciDevice> gpus = host.expectedTopology().gpus();
    VfioBinder.on(host.sysfs()).bind(BindRequest.builder()
        .devices(gpus.stream().map(PciDevice::address).toList()).build());
  }

  @Test
  void examine_iommuOff_reportsTheIommuOffAsAnError() {
    ReadinessReport report = examine(HostProfile.iommuOff(), STATIC);

    assertEquals(Severity.ERROR, finding(report, "iommu.enabled").severity());
  }

  @Test
  void examine_iommuOff_isNotReady() {
    assertFalse(examine(HostProfile.iommuOff(), STATIC).ready());
  }

  @Test
  void examine_iommuOff_fixIsTheGrubLineWithTheGpuIds() {
    HostProfile profile = HostProfile.iommuOff();
    String gpuId = profile.gpus().get(0).id().toString();

    Fix fix = fix(examine(profile, STATIC), "iommu.enabled");

    assertEquals(List.of(Optional.of("/etc/default/grub"),
        "GRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on iommu=pt vfio-pci.ids=" + gpuId + "\"",
        List.of("update-grub", "update-initramfs -u", "reboot")),
        List.of(fix.file(), fix.content(), fix.commands()));
  }

  @Test
  void examine_grubFileWithOptions_fixKeepsThemAndDropsTheIommuOff() {
    HostProfile profile = HostProfile.iommuOff().toBuilder()
        .file("/etc/default/grub", "GRUB_DEFAULT=0\n"
            + "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash intel_iommu=off\"\n").build();

    Fix fix = fix(examine(profile, REBIND), "iommu.enabled");

    assertEquals("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash intel_iommu=on iommu=pt\"",
        fix.content());
  }

  @Test
  void examine_cmdlineTurnsTheIommuOff_saysSo() {
    HostProfile profile = HostProfile.iommuOff().toBuilder()
        .cmdline("BOOT_IMAGE=/vmlinuz ro intel_iommu=off").build();

    assertTrue(finding(examine(profile, STATIC), "iommu.enabled").summary()
        .contains("turns it off (intel_iommu=off)"));
  }

  @Test
  void examine_iommuAskedForButNoGroups_pointsAtTheFirmware() {
    HostProfile profile = HostProfile.iommuOff().toBuilder()
        .cmdline("BOOT_IMAGE=/vmlinuz ro intel_iommu=on iommu=pt").build();

    assertTrue(finding(examine(profile, STATIC), "iommu.enabled").summary()
        .contains("VT-d in the firmware setup"));
  }

  @Test
  void examine_amdHost_fixLeavesOutTheIntelOption() throws IOException {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.iommuOff())) {
      Files.writeString(host.root().resolve("proc/cpuinfo"), "vendor_id\t: AuthenticAMD\n");

      Fix fix = fix(HostDoctor.examine(host.sysfs(), REBIND), "iommu.enabled");

      assertEquals("GRUB_CMDLINE_LINUX_DEFAULT=\"iommu=pt\"", fix.content());
    }
  }

  @Test
  void examine_b200StaticVfio_isNotReadyWhileTheGpusAreOnNvidia() {
    ReadinessReport report = examine(HostProfile.hgxB200(), STATIC);

    assertEquals(8, report.bySeverity(Severity.ERROR).stream()
        .filter(f -> f.check().equals("gpu.driver")).count(), report.render());
  }

  @Test
  void examine_b200GpuOnNvidia_fixIsTheBindCommand() {
    ReadinessReport report = examine(HostProfile.hgxB200(), STATIC);

    assertEquals(List.of("gpuvirt bind --driver vfio-pci 0000:17:00.0"),
        report.findings().stream().filter(f -> f.check().equals("gpu.driver")).findFirst()
            .orElseThrow().fix().orElseThrow().commands());
  }

  @Test
  void examine_b200StaticVfio_isReadyOnceEveryGpuIsBound() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      bindAllGpus(host);

      ReadinessReport report = HostDoctor.examine(host.sysfs(), STATIC);

      assertTrue(report.ready(), report.render());
    }
  }

  @Test
  void examine_b200RebindPerVm_isReadyWithTheGpusOnNvidia() {
    ReadinessReport report = examine(HostProfile.hgxB200(), REBIND);

    assertTrue(report.ready(), report.render());
  }

  @Test
  void examine_workstationStaticVfio_vfioIdsFixNamesTheGpuAndItsAudioFunction() {
    Fix fix = fix(examine(HostProfile.workstation(), STATIC), "vfio.ids");

    assertTrue(fix.content().endsWith("vfio-pci.ids=10de:22bc,10de:27b0\""), fix.content());
  }

  @Test
  void examine_vfioIdsInModprobeD_areAccepted() {
    HostProfile profile = HostProfile.workstation().toBuilder()
        .file("/etc/modprobe.d/vfio.conf", "options vfio-pci ids=10de:27b0,10de:22bc\n").build();

    assertEquals(Severity.OK, finding(examine(profile, STATIC), "vfio.ids").severity());
  }

  @Test
  void examine_rebindPerVmWithVfioIdsOnTheCmdline_warnsAndDropsThemFromTheGrubLine() {
    HostProfile profile = HostProfile.workstation().toBuilder()
        .file("/etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt"
            + " vfio-pci.ids=10de:27b0,10de:22bc\"\n")
        .cmdline("ro quiet intel_iommu=on iommu=pt vfio-pci.ids=10de:27b0,10de:22bc").build();

    Finding f = finding(examine(profile, REBIND), "vfio.ids");

    assertEquals(List.of(Severity.WARNING,
        "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\""),
        List.of(f.severity(), f.fix().orElseThrow().content()));
  }

  @Test
  void examine_noAcs_reportsTheNicSharingTheGpuGroup() {
    Finding f = finding(examine(HostProfile.noAcs(), STATIC), "group.foreign");

    assertEquals(Severity.ERROR, f.severity());
    assertTrue(f.evidence().get(0).contains("0000:04:00.0"), f.evidence().toString());
  }

  @Test
  void examine_vfioPciNotLoaded_fixIsTheModulesLoadFile() {
    HostProfile profile = HostProfile.hgxB200().toBuilder().unloadDriver("vfio-pci").build();

    Fix fix = fix(examine(profile, STATIC), "vfio.loaded");

    assertEquals(List.of(Optional.of("/etc/modules-load.d/vfio.conf"),
        "vfio\nvfio_iommu_type1\nvfio_pci\n"), List.of(fix.file(), fix.content()));
  }

  @Test
  void examine_noModulesLoadFile_warnsWithTheFileToWrite() {
    Finding f = finding(examine(HostProfile.hgxB200(), STATIC), "vfio.early");

    assertEquals(List.of(Severity.WARNING, Optional.of("/etc/modules-load.d/vfio.conf")),
        List.of(f.severity(), f.fix().orElseThrow().file()));
  }

  @Test
  void examine_modulesLoadFilePresent_vfioLoadsEarly() {
    HostProfile profile = HostProfile.hgxB200().toBuilder()
        .file("/etc/modules-load.d/vfio.conf", "# gpuvirt\nvfio\nvfio_iommu_type1\nvfio_pci\n")
        .build();

    assertEquals(Severity.OK, finding(examine(profile, STATIC), "vfio.early").severity());
  }

  @Test
  void examine_staticVfioWithoutBlacklist_fixIsTheBlacklistFile() {
    Fix fix = fix(examine(HostProfile.hgxB200(), STATIC), "driver.blacklist");

    assertEquals(List.of(Optional.of("/etc/modprobe.d/blacklist-nvidia.conf"),
        "blacklist nouveau\noptions nouveau modeset=0\nblacklist nvidia\nblacklist nvidia_drm\n"
            + "blacklist nvidiafb\n", List.of("update-initramfs -u", "reboot")),
        List.of(fix.file(), fix.content(), fix.commands()));
  }

  @Test
  void examine_nouveauBlacklistedOnTheKernelCommandLine_isBlacklisted() {
    HostProfile profile = HostProfile.hgxB200().toBuilder()
        .cmdline("BOOT_IMAGE=/vmlinuz ro intel_iommu=on iommu=pt modprobe.blacklist=nouveau")
        .build();

    assertEquals(Severity.OK, finding(examine(profile, REBIND), "driver.blacklist").severity());
  }

  @Test
  void examine_dracutBlacklistCommaListOnTheCommandLine_countsEveryModule() {
    HostProfile profile = HostProfile.hgxB200().toBuilder()
        .cmdline("ro rd.driver.blacklist=nouveau,nvidiafb modprobe.blacklist=nvidia,nvidia-drm")
        .build();

    assertEquals(Severity.OK, finding(examine(profile, STATIC), "driver.blacklist").severity());
  }

  @Test
  void examine_blacklistOfAnotherModuleOnTheCommandLine_stillWarnsForNouveau() {
    HostProfile profile = HostProfile.hgxB200().toBuilder()
        .cmdline("ro modprobe.blacklist=radeon").build();

    Finding f = finding(examine(profile, REBIND), "driver.blacklist");
    assertTrue(f.severity() == Severity.WARNING && f.summary().contains("nouveau"),
        f.summary());
  }

  @Test
  void examine_rhelHost_fixesUseGrubbyAndDracut() {
    HostProfile profile = HostProfile.iommuOff().toBuilder()
        .cmdline("BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-503.el9.x86_64 ro intel_iommu=off")
        .file("/etc/os-release", "NAME=\"Rocky Linux\"\nVERSION=\"9.5 (Blue Onyx)\"\n"
            + "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n").build();
    String gpuId = profile.gpus().get(0).id().toString();

    Fix fix = fix(examine(profile, STATIC), "iommu.enabled");

    assertEquals(List.of(Optional.empty(), List.of("grubby --update-kernel=ALL"
        + " --remove-args=\"intel_iommu=off\" --args=\"intel_iommu=on iommu=pt vfio-pci.ids="
        + gpuId + "\"", "dracut -f", "reboot")), List.of(fix.file(), fix.commands()));
  }

  @Test
  void examine_rhelLikeById_blacklistFixRebuildsTheInitramfsWithDracut() {
    HostProfile profile = HostProfile.hgxB200().toBuilder()
        .file("/etc/os-release", "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\n").build();

    assertEquals(List.of("dracut -f", "reboot"),
        fix(examine(profile, STATIC), "driver.blacklist").commands());
  }

  @Test
  void examine_ubuntuHost_fixesUseUpdateGrubWithoutANote() {
    HostProfile profile = HostProfile.iommuOff().toBuilder()
        .file("/etc/os-release", "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n").build();

    Fix fix = fix(examine(profile, STATIC), "iommu.enabled");
    assertTrue(fix.commands().contains("update-grub") && !fix.summary().contains("grubby"),
        fix.render());
  }

  @Test
  void examine_unknownDistribution_saysWhichCommandsItAssumed() {
    Fix fix = fix(examine(HostProfile.iommuOff(), STATIC), "iommu.enabled");

    assertTrue(fix.commands().contains("update-grub") && fix.summary().contains("grubby")
        && fix.summary().contains("dracut -f"), fix.render());
  }

  @Test
  void examine_rebindPerVmWithNvidiaBlacklisted_isAnError() {
    HostProfile profile = HostProfile.hgxB200().toBuilder()
        .file("/etc/modprobe.d/blacklist-nvidia.conf", "blacklist nouveau\nblacklist nvidia\n")
        .build();

    assertEquals(Severity.ERROR,
        finding(examine(profile, REBIND), "driver.blacklist").severity());
  }

  @Test
  void examine_readyHost_hasNoFixesForItsOkFindings() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      bindAllGpus(host);

      ReadinessReport report = HostDoctor.examine(host.sysfs(), STATIC);

      assertTrue(report.bySeverity(Severity.OK).stream().allMatch(f -> f.fix().isEmpty()),
          report.render());
    }
  }

  @Test
  void examine_writesNothing() {
    try (SimulatedHost host = SimulatedHost.iommuOff()) {
      HostDoctor.examine(host.sysfs(), STATIC);

      assertEquals(0, host.writeCount());
    }
  }

  @Test
  void render_notReadyHost_printsEachFixUnderItsFinding() {
    String text = examine(HostProfile.iommuOff(), STATIC).render();

    assertTrue(text.startsWith("host ") && text.contains("NOT READY")
        && text.contains("fix:     GRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on iommu=pt"), text);
  }
}
