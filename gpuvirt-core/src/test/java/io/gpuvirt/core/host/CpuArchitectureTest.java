package io.gpuvirt.core.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class CpuArchitectureTest {
  @TempDir Path root;

  @Test
  void fromCpuinfo_armKernelsLines_isAarch64() {
    assertEquals(CpuArchitecture.AARCH64, CpuArchitecture.fromCpuinfo("processor\t: 0\n"
        + "BogoMIPS\t: 2000.00\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd4f\n"));
  }

  @Test
  void fromCpuinfo_x86KernelsLines_isX86() {
    assertEquals(CpuArchitecture.X86_64, CpuArchitecture.fromCpuinfo("processor\t: 0\n"
        + "vendor_id\t: GenuineIntel\naddress sizes\t: 46 bits physical, 57 bits virtual\n"));
  }

  @Test
  void of_hostWithoutCpuinfo_isX86() {
    assertEquals(CpuArchitecture.X86_64, CpuArchitecture.of(Sysfs.at(root)));
  }

  @Test
  void of_hostWithArmCpuinfo_isAarch64() throws IOException {
    Files.createDirectories(root.resolve("proc"));
    Files.writeString(root.resolve("proc/cpuinfo"), "CPU implementer\t: 0x41\n");
    assertEquals(CpuArchitecture.AARCH64, CpuArchitecture.of(Sysfs.at(root)));
  }

  @Test
  void parse_debianAndKernelNames_areAccepted() {
    assertEquals(List.of(CpuArchitecture.AARCH64, CpuArchitecture.AARCH64,
        CpuArchitecture.X86_64, CpuArchitecture.X86_64), List.of(CpuArchitecture.parse("aarch64"),
        CpuArchitecture.parse("arm64"), CpuArchitecture.parse("x86_64"),
        CpuArchitecture.parse("amd64")));
  }

  @Test
  void parse_unknownName_isRefusedNamingTheChoices() {
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> CpuArchitecture.parse("riscv64"));
    assertTrue(e.getMessage().contains("riscv64") && e.getMessage().contains("[x86_64, aarch64]"),
        e.getMessage());
  }
}
