package io.gpuvirt.testkit.grace;

import static io.gpuvirt.testkit.doctor.Findings.finding;
import static io.gpuvirt.testkit.doctor.Findings.fix;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.doctor.Finding;
import io.gpuvirt.core.doctor.Fix;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.doctor.HostDoctor;
import io.gpuvirt.core.doctor.ReadinessReport;
import io.gpuvirt.core.doctor.Severity;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** {@code doctor} on the arm64 GB200 NVL4 host: SMMU, iommu.passthrough, the variant driver. */
final class GraceDoctorTest {
  private static final GpuDriverPolicy REBIND = GpuDriverPolicy.REBIND_PER_VM;

  private static ReadinessReport examine(HostProfile profile) {
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      return HostDoctor.examine(host.sysfs(), REBIND);
    }
  }

  private static HostProfile withCmdline(String options) {
    return HostProfile.gb200Nvl4().toBuilder().cmdline("BOOT_IMAGE=/boot/vmlinuz-6.17.0-1003-"
        + "nvidia-64k root=UUID=0b7c5e7a-3c41-4d8e-9f0a-6e2d8c1b4a90 ro " + options).build();
  }

  @Test
  void examine_gb200_isReady() {
    ReadinessReport report = examine(HostProfile.gb200Nvl4());
    assertTrue(report.ready(), report.render());
  }

  @Test
  void examine_gb200_smmuIsPresent() {
    Finding f = finding(examine(HostProfile.gb200Nvl4()), "iommu.smmu");
    assertEquals(Severity.OK, f.severity(), f.summary());
  }

  @Test
  void examine_gb200WithoutSmmu_isAnErrorWhoseFixLoadsArmSmmuV3() throws IOException {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.gb200Nvl4())) {
      try (Stream<Path> units = Files.list(host.root().resolve("sys/class/iommu"))) {
        for (Path unit : units.toList()) {
          Files.delete(unit);
        }
      }
      ReadinessReport report = HostDoctor.examine(host.sysfs(), REBIND);
      Fix fix = fix(report, "iommu.smmu");
      assertEquals(List.of(Severity.ERROR, Optional.of("/etc/modules-load.d/arm-smmu-v3.conf"),
              "arm_smmu_v3\n", List.of("modprobe arm_smmu_v3", "update-initramfs -u", "reboot")),
          List.of(finding(report, "iommu.smmu").severity(), fix.file(), fix.content(),
              fix.commands()));
    }
  }

  @Test
  void examine_x86Host_hasNoSmmuFinding() {
    assertTrue(examine(HostProfile.hgxB200()).findings().stream()
        .noneMatch(f -> f.check().equals("iommu.smmu")));
  }

  @Test
  void examine_gb200_passthroughIsArmsSpelling() {
    Finding f = finding(examine(HostProfile.gb200Nvl4()), "iommu.passthrough");
    assertEquals(List.of(Severity.OK, "iommu.passthrough=1 is set: host devices keep"
        + " identity-mapped DMA"), List.of(f.severity(), f.summary()));
  }

  @Test
  void examine_gb200WithX86sIommuPt_warnsThatArm64IgnoresIt() {
    Finding f = finding(examine(withCmdline("iommu=pt")), "iommu.passthrough");
    assertTrue(f.severity() == Severity.WARNING && f.summary().contains("iommu=pt, which is"
        + " x86's option and ignored on arm64"), f.summary());
  }

  @Test
  void examine_gb200WithoutPassthrough_fixIsTheGrubLineWithIommuPassthrough() {
    Fix fix = fix(examine(withCmdline("quiet")), "iommu.passthrough");
    assertEquals(List.of(Optional.of("/etc/default/grub"),
            "GRUB_CMDLINE_LINUX_DEFAULT=\"iommu.passthrough=1\"",
            List.of("update-grub", "update-initramfs -u", "reboot")),
        List.of(fix.file(), fix.content(), fix.commands()));
  }

  @Test
  void examine_gb200_variantDriverIsLoadedForTheFourGpus() {
    Finding f = finding(examine(HostProfile.gb200Nvl4()), "vfio.variant");
    assertEquals(List.of(Severity.OK, "the VFIO variant driver nvgrace_gpu_vfio_pci is loaded for"
        + " 0008:01:00.0 (10de:2941), 0009:01:00.0 (10de:2941), 0018:01:00.0 (10de:2941),"
        + " 0019:01:00.0 (10de:2941)"), List.of(f.severity(), f.summary()));
  }

  @Test
  void examine_gb200WithoutTheVariantDriver_isAnErrorWhoseFixLoadsIt() {
    ReadinessReport report = examine(HostProfile.gb200Nvl4().toBuilder()
        .unloadDriver("nvgrace_gpu_vfio_pci").build());
    Fix fix = fix(report, "vfio.variant");
    assertEquals(List.of(Severity.ERROR, false, Optional.of("/etc/modules-load.d/vfio.conf"),
            "vfio\nvfio_iommu_type1\nvfio_pci\nnvgrace-gpu-vfio-pci\n",
            List.of("modprobe nvgrace-gpu-vfio-pci", "update-initramfs -u")),
        List.of(finding(report, "vfio.variant").severity(), report.ready(), fix.file(),
            fix.content(), fix.commands()));
  }

  @Test
  void examine_x86Host_hasNoVariantFinding() {
    assertTrue(examine(HostProfile.hgxB200()).findings().stream()
        .noneMatch(f -> f.check().equals("vfio.variant")));
  }

  @Test
  void examine_gb200Gpu_explainsTheDriverRule() {
    Finding f = finding(examine(HostProfile.gb200Nvl4()), "gpu.driver");
    assertEquals("0008:01:00.0 (10de:2941) is on nvidia; gpuvirt binds it to nvgrace_gpu_vfio_pci"
        + " when a VM gets it", f.summary());
    assertTrue(f.evidence().contains("driver rule: 0008:01:00.0 (10de:2941) goes to the VFIO"
        + " variant driver nvgrace_gpu_vfio_pci: it is a Grace-attached GPU, whose memory is"
        + " coherent with the CPU and reaches the guest as a cacheable BAR2 only through that"
        + " driver"), f.evidence().toString());
  }

  @Test
  void examine_b200Gpu_explainsThatItGoesToVfioPci() {
    Finding f = finding(examine(HostProfile.hgxB200()), "gpu.driver");
    assertTrue(f.evidence().contains("driver rule: 0000:17:00.0 (10de:2901) goes to vfio-pci: no"
        + " VFIO variant driver is known for that part"), f.evidence().toString());
  }
}
