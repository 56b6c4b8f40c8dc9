package io.gpuvirt.examples.guest;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Checks, inside a guest, that every NVIDIA GPU sits behind a PCIe root port rather than directly
 * on the root complex.
 *
 * <p>On HGX B200 the guest driver probes a GPU on the root complex without complaint, and
 * {@code nvidia-smi} looks healthy, but {@code cuInit} fails with 3
 * ({@code CUDA_ERROR_NOT_INITIALIZED}); behind a root port, as on the host, CUDA initialises.
 * Cloud Hypervisor can only build the flat layout; QEMU with {@code -device pcie-root-port} (what
 * gpuvirt's {@code QemuCommandBuilder} emits) builds the deep one.
 *
 * <p>A GPU passes when a bridge above it reports PCIe port type "root port", or, when the port
 * type cannot be read (an unprivileged user reads only the first 64 bytes of config space), when
 * the bridge above it on the root bus has class 0x0604. Run as root for the definite answer.
 */
public final class RootPortCheck {
  private RootPortCheck() {}

  /** The NVIDIA GPUs of {@code guest} (vendor 10de, class 0x0300 or 0x0302), in address order. */
  public static List<PciDevice> nvidiaGpus(Topology guest) {
    return guest.gpus().stream().filter(d -> d.id().vendor() == PciId.NVIDIA).toList();
  }

  /** Where each NVIDIA GPU of {@code guest} sits; empty when there is none. */
  public static List<GpuPlacement> examine(Topology guest) {
    List<GpuPlacement> out = new ArrayList<>();
    for (PciDevice gpu : nvidiaGpus(guest)) {
      out.add(place(gpu, guest.upstreamChain(gpu.address())));
    }
    return List.copyOf(out);
  }

  private static GpuPlacement place(PciDevice gpu, List<PciDevice> chain) {
    List<PciAddress> upstream = chain.stream().map(PciDevice::address).toList();
    String name = gpu.address() + " [" + gpu.id() + "]";
    Optional<String> fix = Optional.of("start the VM with the GPU behind a PCIe root port:"
        + " -device pcie-root-port,id=rp0,chassis=1,slot=1 -device vfio-pci,host=<host BDF>,bus=rp0"
        + " (gpuvirt's QemuCommandBuilder does this), or in libvirt give the hostdev an address on"
        + " a pcie-root-port controller");
    if (chain.isEmpty()) {
      return new GpuPlacement(gpu.address(), gpu.id(), GpuPlacement.Verdict.ON_ROOT_COMPLEX,
          upstream, Optional.empty(), name + " sits directly on root bus " + gpu.rootBus()
              + " (the flat layout in which HGX B200 fails cuInit with 3)", fix);
    }
    for (PciDevice bridge : chain) {
      if (bridge.portType().equals(Optional.of(PciePortType.ROOT_PORT))) {
        return new GpuPlacement(gpu.address(), gpu.id(), GpuPlacement.Verdict.BEHIND_ROOT_PORT,
            upstream, Optional.of(bridge.address()), name + " is behind PCIe root port "
                + bridge.address() + " [" + bridge.id() + "]", Optional.empty());
      }
    }
    PciDevice top = chain.get(chain.size() - 1);
    if (top.portType().isEmpty() && top.parent().isEmpty()
        && top.pciClass().baseAndSub() == PciClass.PCI_BRIDGE) {
      return new GpuPlacement(gpu.address(), gpu.id(), GpuPlacement.Verdict.BEHIND_ROOT_BUS_BRIDGE,
          upstream, Optional.of(top.address()), name + " is behind PCI bridge " + top.address()
              + " [" + top.id() + "] on the root bus; its port type is unreadable (run as root"
              + " to read the PCI Express capability), so it is taken as a root port",
          Optional.empty());
    }
    return new GpuPlacement(gpu.address(), gpu.id(), GpuPlacement.Verdict.NO_ROOT_PORT, upstream,
        Optional.empty(), name + " is behind " + describe(chain) + ", none of them a PCIe root"
            + " port", fix);
  }

  private static String describe(List<PciDevice> chain) {
    List<String> parts = new ArrayList<>();
    for (PciDevice d : chain) {
      parts.add(d.address() + " (" + d.portType().map(PciePortType::name)
          .orElse("class " + d.pciClass()) + ")");
    }
    return String.join(" <- ", parts);
  }
}
