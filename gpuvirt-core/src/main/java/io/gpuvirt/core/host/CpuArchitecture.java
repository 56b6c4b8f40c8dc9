package io.gpuvirt.core.host;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.InvalidValueException;
import java.util.Arrays;
import java.util.Locale;

/**
 * The CPU architecture of a host: data that decides which IOMMU, kernel options, QEMU binary and
 * machine type apply, never a fork of the code. Read from a host's {@code /proc/cpuinfo}
 * ({@link #of(Sysfs)}): an arm64 kernel writes {@code CPU architecture: 8} and
 * {@code CPU implementer} lines, an x86 kernel {@code vendor_id} lines.
 */
public enum CpuArchitecture {
  /** x86-64 (Intel, AMD): VT-d / AMD-Vi, {@code iommu=pt}, QEMU {@code q35}. */
  X86_64("x86_64"),
  /** 64-bit Arm (NVIDIA Grace): SMMUv3, {@code iommu.passthrough=1}, QEMU {@code virt}. */
  AARCH64("aarch64");

  private final String kernelName;

  CpuArchitecture(String kernelName) {
    this.kernelName = kernelName;
  }

  /** The name {@code uname -m} prints and QEMU binaries carry ({@code qemu-system-aarch64}). */
  public String kernelName() {
    return kernelName;
  }

  /**
   * The architecture named {@code name} ({@code x86_64}, {@code aarch64}; {@code arm64} and
   * {@code amd64} accepted as Debian spells them).
   *
   * @throws InvalidValueException naming the accepted names
   */
  public static CpuArchitecture parse(String name) {
    String n = String.valueOf(name).toLowerCase(Locale.ROOT);
    switch (n) {
      case "x86_64":
      case "amd64":
        return X86_64;
      case "aarch64":
      case "arm64":
        return AARCH64;
      default:
        throw new InvalidValueException("unknown CPU architecture '" + name + "'; choose one of "
            + Arrays.stream(values()).map(CpuArchitecture::kernelName).toList());
    }
  }

  /**
   * The architecture of the host behind {@code sysfs}, from {@code /proc/cpuinfo}: arm64 when it
   * has a {@code CPU architecture: 8} or {@code CPU implementer} line, x86_64 otherwise (also when
   * the file is missing or unreadable: the hosts gpuvirt ran on before Grace).
   */
  public static CpuArchitecture of(Sysfs sysfs) {
    String cpuinfo;
    try {
      cpuinfo = sysfs.exists("/proc/cpuinfo") ? sysfs.read("/proc/cpuinfo") : "";
    } catch (GpuvirtException e) {
      cpuinfo = "";
    }
    return fromCpuinfo(cpuinfo);
  }

  /** The architecture that {@code /proc/cpuinfo} text describes (see {@link #of(Sysfs)}). */
  public static CpuArchitecture fromCpuinfo(String cpuinfo) {
    for (String line : cpuinfo.lines().toList()) {
      int colon = line.indexOf(':');
      if (colon < 0) {
        continue;
      }
      String key = line.substring(0, colon).strip();
      String value = line.substring(colon + 1).strip();
      if (key.equals("CPU implementer") || key.equals("CPU architecture") && value.equals("8")) {
        return AARCH64;
      }
    }
    return X86_64;
  }
}
