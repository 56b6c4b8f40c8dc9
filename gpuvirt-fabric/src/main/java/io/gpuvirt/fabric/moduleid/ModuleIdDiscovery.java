package io.gpuvirt.fabric.moduleid;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.pci.PciAddress;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Discovers which GPU has which module id, the ids Fabric Manager partitions name: from
 * {@code nvidia-smi -q} (the old top-level {@code Module ID} line and the 580 {@code Platform Info}
 * block both work) and from NVML ({@code nvmlDeviceGetModuleId}), and cross-checks the two. Both
 * see only GPUs on the nvidia driver, so discover while none is on vfio-pci and keep the map
 * ({@link io.gpuvirt.core.fabric.ModuleIdMapStore}).
 *
 * <pre>{@code
 * ModuleIdMap smi = ModuleIdDiscovery.fromNvidiaSmi(CommandRunner.system(), "nvidia-smi").moduleIds();
 * ModuleIdMap nvml = ModuleIdDiscovery.fromNvml("libnvidia-ml.so.1");
 * ModuleIdMap map = ModuleIdDiscovery.crossCheck(smi, "nvidia-smi -q", nvml, "NVML");
 * }</pre>
 */
public final class ModuleIdDiscovery {
  /** NVML's SONAME. */
  public static final String NVML_LIBRARY = "libnvidia-ml.so.1";
  private static final Duration NVIDIA_SMI_TIMEOUT = Duration.ofSeconds(120);

  private ModuleIdDiscovery() {}

  /**
   * Runs {@code nvidia-smi -q} and reads the module ids.
   *
   * @param program the nvidia-smi program
   * @throws ModuleIdDiscoveryException when it fails, or a GPU lacks or repeats a module id
   */
  public static NvidiaSmiReport fromNvidiaSmi(CommandRunner runner, String program) {
    CommandResult r = runner.run(Command.of(program, "-q").withTimeout(NVIDIA_SMI_TIMEOUT));
    if (r.exitCode() != 0) {
      throw new ModuleIdDiscoveryException(program + " -q exited with " + r.exitCode() + ": "
          + (r.stderr() + r.stdout()).strip() + "; check that the nvidia driver is loaded");
    }
    return parseNvidiaSmi(r.stdout(), program + " -q");
  }

  /**
   * Reads the text of {@code nvidia-smi -q}.
   *
   * @param source where it came from, for messages
   * @throws ModuleIdDiscoveryException naming the GPU when a module id is missing, repeated or not
   *     a number, or the output is truncated
   */
  public static NvidiaSmiReport parseNvidiaSmi(String text, String source) {
    return NvidiaSmiParser.parse(text, source);
  }

  /**
   * Asks NVML for each GPU's PCI address and module id.
   *
   * @param library the NVML library ({@value #NVML_LIBRARY} or a path)
   * @throws ModuleIdDiscoveryException when NVML cannot be loaded or fails, or ids are missing or
   *     repeated
   */
  public static ModuleIdMap fromNvml(String library) {
    NvmlLibrary nvml;
    try {
      nvml = Native.load(library, NvmlLibrary.class);
    } catch (UnsatisfiedLinkError e) {
      throw new ModuleIdDiscoveryException("could not load NVML (" + library + "): "
          + e.getMessage() + "; install the NVIDIA driver's libnvidia-ml", e);
    }
    check(nvml, "nvmlInit_v2", nvml.nvmlInit_v2());
    try {
      IntByReference count = new IntByReference();
      check(nvml, "nvmlDeviceGetCount_v2", nvml.nvmlDeviceGetCount_v2(count));
      Map<Integer, PciAddress> byModuleId = new TreeMap<>();
      for (int i = 0; i < count.getValue(); i++) {
        PointerByReference device = new PointerByReference();
        check(nvml, "nvmlDeviceGetHandleByIndex_v2(" + i + ")",
            nvml.nvmlDeviceGetHandleByIndex_v2(i, device));
        NvmlLibrary.PciInfo pci = new NvmlLibrary.PciInfo();
        check(nvml, "nvmlDeviceGetPciInfo_v3(" + i + ")",
            nvml.nvmlDeviceGetPciInfo_v3(device.getValue(), pci));
        PciAddress address = address(pci);
        int moduleId = moduleId(nvml, device.getValue(), address);
        PciAddress other = byModuleId.put(moduleId, address);
        if (other != null) {
          throw new ModuleIdDiscoveryException("NVML gives GPUs " + other + " and " + address
              + " the same module id " + moduleId);
        }
      }
      if (byModuleId.isEmpty()) {
        throw new ModuleIdDiscoveryException("NVML sees no GPU; bind the GPUs to the nvidia "
            + "driver and try again");
      }
      return new ModuleIdMap(byModuleId);
    } finally {
      nvml.nvmlShutdown();
    }
  }

  private static PciAddress address(NvmlLibrary.PciInfo pci) {
    String busId = Native.toString(pci.busId, "US-ASCII");
    try {
      return PciAddress.parse(busId);
    } catch (RuntimeException e) {
      throw new ModuleIdDiscoveryException("NVML returned bus id '" + busId
          + "', not a PCI address", e);
    }
  }

  private static int moduleId(NvmlLibrary nvml, Pointer device, PciAddress address) {
    IntByReference id = new IntByReference();
    int rc;
    try {
      rc = nvml.nvmlDeviceGetModuleId(device, id);
    } catch (UnsatisfiedLinkError e) {
      throw new ModuleIdDiscoveryException("this NVML has no nvmlDeviceGetModuleId (added in "
          + "r535); upgrade the NVIDIA driver, or use nvidia-smi -q", e);
    }
    if (rc != NvmlLibrary.NVML_SUCCESS) {
      throw new ModuleIdDiscoveryException("nvmlDeviceGetModuleId failed for GPU " + address
          + ": " + nvml.nvmlErrorString(rc));
    }
    if (id.getValue() < 0) {
      throw new ModuleIdDiscoveryException("NVML gives GPU " + address + " module id "
          + Integer.toUnsignedString(id.getValue()));
    }
    return id.getValue();
  }

  private static void check(NvmlLibrary nvml, String call, int rc) {
    if (rc != NvmlLibrary.NVML_SUCCESS) {
      String why;
      try {
        why = nvml.nvmlErrorString(rc);
      } catch (RuntimeException | UnsatisfiedLinkError e) {
        why = "error " + rc;
      }
      throw new ModuleIdDiscoveryException(call + " failed: " + why
          + "; check that the nvidia driver is loaded");
    }
  }

  /**
   * Checks that two sources agree on every GPU's module id.
   *
   * @return {@code first}, when they agree
   * @throws ModuleIdDiscoveryException listing every GPU on which they differ
   */
  public static ModuleIdMap crossCheck(ModuleIdMap first, String firstSource, ModuleIdMap second,
      String secondSource) {
    if (first.equals(second)) {
      return first;
    }
    TreeSet<PciAddress> all = new TreeSet<>(first.addresses());
    all.addAll(second.addresses());
    StringBuilder diff = new StringBuilder();
    for (PciAddress gpu : all) {
      String a = first.moduleId(gpu).map(String::valueOf).orElse("none");
      String b = second.moduleId(gpu).map(String::valueOf).orElse("none");
      if (!a.equals(b)) {
        diff.append(diff.length() == 0 ? "" : "; ").append(gpu).append(": ").append(a)
            .append(" from ").append(firstSource).append(", ").append(b).append(" from ")
            .append(secondSource);
      }
    }
    throw new ModuleIdDiscoveryException("the module ids disagree: " + diff
        + "; make sure every GPU is on the nvidia driver and rediscover");
  }
}
