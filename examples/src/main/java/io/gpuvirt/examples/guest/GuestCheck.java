package io.gpuvirt.examples.guest;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import java.util.Objects;
import java.util.Optional;

/**
 * The guest check: run it inside a VM that was given NVIDIA GPUs to find out whether CUDA will
 * work there, and if not, why.
 *
 * <p>It checks two things and changes nothing:
 * <ol>
 *   <li>PCIe placement ({@link RootPortCheck}): every NVIDIA GPU on the guest's PCI bus sits behind
 *       a PCIe root port, not directly on the root complex, where an HGX B200 fails {@code cuInit}
 *       with 3 although {@code nvidia-smi} looks healthy;</li>
 *   <li>CUDA ({@link CudaDriverProbe}): {@code cuInit(0)} in {@code libcuda.so.1} succeeds (the
 *       result is reported by name, with the usual cause and fix) and {@code cuDeviceGetCount}
 *       sees at least one device.</li>
 * </ol>
 *
 * <pre>
 * java -cp gpuvirt.jar io.gpuvirt.examples.guest.GuestCheck [--json] [--root DIR] [--cuda-library PATH]
 * gpuvirt guest-check [--json]          # the same, from the gpuvirt CLI
 * </pre>
 *
 * <p>Exit codes: 0 both checks passed, 1 a check failed (the reasons and fixes printed), 2 an
 * error (the guest's sysfs could not be read, bad arguments).
 *
 * <p>From Java:
 * <pre>{@code
 * GuestCheckReport report = GuestCheck.run(Sysfs.host(), CudaDriverProbe.DEFAULT_LIBRARY);
 * if (!report.passed()) {
 *   report.problems().forEach(System.err::println);
 * }
 * }</pre>
 */
public final class GuestCheck {
  /** Where the nvidia kernel module reports its version. */
  static final String NVIDIA_VERSION = "/proc/driver/nvidia/version";

  private GuestCheck() {}

  /** Runs the check from the command line; see the class comment for arguments and exit codes. */
  public static void main(String[] args) {
    System.exit(GuestCheckCommand.commandLine().execute(args));
  }

  /**
   * Checks the guest behind {@code sysfs} and asks the CUDA library {@code cudaLibrary}.
   *
   * @throws io.gpuvirt.core.GpuvirtException when the guest's sysfs cannot be read
   */
  public static GuestCheckReport run(Sysfs sysfs, String cudaLibrary) {
    Objects.requireNonNull(sysfs, "sysfs");
    Objects.requireNonNull(cudaLibrary, "cudaLibrary");
    Topology guest = TopologyScanner.scan(sysfs);
    return new GuestCheckReport(sysfs.root().toString(), RootPortCheck.examine(guest),
        CudaDriverProbe.probe(cudaLibrary), kernelDriver(sysfs));
  }

  private static Optional<String> kernelDriver(Sysfs sysfs) {
    if (!sysfs.exists(NVIDIA_VERSION)) {
      return Optional.empty();
    }
    String first = sysfs.read(NVIDIA_VERSION).strip().lines().findFirst().orElse("");
    return first.isEmpty() ? Optional.empty() : Optional.of(first.replaceAll("\\s+", " "));
  }
}
