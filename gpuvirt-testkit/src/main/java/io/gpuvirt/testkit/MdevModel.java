package io.gpuvirt.testkit;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What the NVIDIA vGPU host driver and the kernel's mdev core do on the legacy mediated-device
 * path (VGPU_MIG.md §2.1): while a legacy-mdev GPU (no SR-IOV, a card with an mdev catalogue) is
 * on the {@code nvidia} driver it has {@code mdev_supported_types/nvidia-<id>/} with
 * {@code name}, {@code description}, {@code device_api}, {@code available_instances},
 * {@code create} and {@code devices/}, and {@code /sys/class/mdev_bus/<PF>} links to it.
 *
 * <p>Writing a UUID (36 characters, an optional newline) to {@code create} makes the device
 * directory {@code <PF>/<uuid>/} with {@code mdev_type} and {@code remove}, linked from
 * {@code /sys/bus/mdev/devices/<uuid>} and {@code <type>/devices/<uuid>}; a malformed UUID fails
 * with EINVAL, one in use with EEXIST (the mdev core's), no available instance with ENOSPC
 * (inferred). Writing a non-zero number to {@code remove} removes the device, 0 does nothing,
 * anything else is EINVAL. The GPU is homogeneous: once a type is placed the other types have 0
 * available instances. Unbinding the GPU from {@code nvidia} while devices exist fails with
 * EBUSY. Each device gets an IOMMU group of its own whose one member is the UUID, as the mdev
 * core's {@code vfio_mdev} gives it (a member that is not a PCI function).
 */
final class MdevModel {
  private static final Map<PciId, VgpuTypeCatalogue> CATALOGUES = Map.of(
      new PciId(0x10de, 0x1eb8), VgpuTypeCatalogue.t4());
  private static final Pattern UUID_TEXT =
      Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

  private final HostProfile profile;
  private final HostTree tree;

  MdevModel(HostProfile profile, HostTree tree) {
    this.profile = profile;
    this.tree = tree;
  }

  /** The catalogue of a legacy-mdev GPU, empty for any other device. */
  private Optional<VgpuTypeCatalogue> catalogue(PciAddress pf) {
    return profile.device(pf).filter(d -> d.sriov().isEmpty())
        .flatMap(d -> Optional.ofNullable(CATALOGUES.get(d.id())));
  }

  /** A driver was bound: the nvidia driver makes a legacy-mdev GPU an mdev parent. */
  void driverBound(PciAddress pf, String driver) throws IOException {
    Optional<VgpuTypeCatalogue> catalogue = catalogue(pf);
    if (!driver.equals("nvidia") || catalogue.isEmpty()) {
      return;
    }
    Path types = tree.deviceDir(pf).resolve("mdev_supported_types");
    for (VgpuType t : catalogue.get().types()) {
      Path dir = types.resolve("nvidia-" + t.id());
      Files.createDirectories(dir.resolve("devices"));
      HostTree.write(dir.resolve("name"), t.name() + "\n");
      HostTree.write(dir.resolve("description"), "num_heads=4, frl_config=60, framebuffer="
          + t.framebufferMib() + "M, max_resolution=5120x2880, max_instance=" + t.maxInstances()
          + "\n");
      HostTree.write(dir.resolve("device_api"), "vfio-pci\n");
      HostTree.write(dir.resolve("create"), "");
    }
    Path parents = tree.root().resolve("sys/class/mdev_bus");
    Files.createDirectories(parents);
    Files.createDirectories(tree.root().resolve("sys/bus/mdev/devices"));
    HostTree.link(parents.resolve(pf.toString()), tree.deviceDir(pf));
    refresh(pf);
  }

  /** The GPU is about to leave its driver: refused while mediated devices exist. */
  void unbinding(String hostPath, PciAddress pf) throws IOException {
    Path types = tree.deviceDir(pf).resolve("mdev_supported_types");
    if (!Files.isDirectory(types)) {
      return;
    }
    if (!devices(pf).isEmpty()) {
      throw new KernelModel.KernelError(hostPath, KernelModel.Errno.EBUSY);
    }
    HostTree.deleteTree(types);
    Files.deleteIfExists(tree.root().resolve("sys/class/mdev_bus").resolve(pf.toString()));
  }

  /** A write to {@code <PF>/mdev_supported_types/<type>/create}. */
  void create(String hostPath, PciAddress pf, String type, String value) throws IOException {
    Path typeDir = tree.deviceDir(pf).resolve("mdev_supported_types").resolve(type);
    String text = value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
    if (!UUID_TEXT.matcher(text).matches()) {
      throw new KernelModel.KernelError(hostPath, KernelModel.Errno.EINVAL);
    }
    String uuid = text.toLowerCase(java.util.Locale.ROOT);
    Path bus = tree.root().resolve("sys/bus/mdev/devices");
    if (Files.exists(bus.resolve(uuid), LinkOption.NOFOLLOW_LINKS)) {
      throw new KernelModel.KernelError(hostPath, KernelModel.Errno.EEXIST);
    }
    if (Integer.parseInt(HostTree.read(typeDir.resolve("available_instances")).strip()) < 1) {
      throw new KernelModel.KernelError(hostPath, KernelModel.Errno.ENOSPC);
    }
    Path dir = tree.deviceDir(pf).resolve(uuid);
    Files.createDirectories(dir);
    HostTree.link(dir.resolve("mdev_type"), typeDir);
    HostTree.write(dir.resolve("remove"), "");
    Files.createDirectories(bus);
    HostTree.link(bus.resolve(uuid), dir);
    tree.joinGroup(uuid, dir, tree.maxGroup() + 1);
    HostTree.link(typeDir.resolve("devices").resolve(uuid), dir);
    refresh(pf);
  }

  /** A write to {@code <PF>/<uuid>/remove}. */
  void remove(String hostPath, PciAddress pf, String uuid, String value) throws IOException {
    String text = value.strip();
    if (!text.matches("[0-9]{1,9}")) {
      throw new KernelModel.KernelError(hostPath, KernelModel.Errno.EINVAL);
    }
    if (Integer.parseInt(text) == 0) {
      return;
    }
    Path dir = tree.deviceDir(pf).resolve(uuid);
    Path typeDir = dir.resolve(Files.readSymbolicLink(dir.resolve("mdev_type"))).normalize();
    Path group = dir.resolve(Files.readSymbolicLink(dir.resolve("iommu_group"))).normalize();
    HostTree.deleteTree(group);
    Files.deleteIfExists(typeDir.resolve("devices").resolve(uuid));
    Files.deleteIfExists(tree.root().resolve("sys/bus/mdev/devices").resolve(uuid));
    HostTree.deleteTree(dir);
    refresh(pf);
  }

  /** True when {@code name} in {@code <PF>/} is one of its mediated devices. */
  static boolean isDeviceName(String name) {
    return UUID_TEXT.matcher(name).matches();
  }

  /** Recomputes every type's available_instances: homogeneous, one type at a time. */
  private void refresh(PciAddress pf) throws IOException {
    VgpuTypeCatalogue catalogue = catalogue(pf).orElseThrow();
    Map<Integer, Integer> placed = new java.util.HashMap<>();
    for (VgpuType t : catalogue.types()) {
      int n = count(pf, t);
      if (n > 0) {
        placed.put(t.id(), n);
      }
    }
    for (VgpuType t : catalogue.types()) {
      int available = placed.isEmpty() ? t.maxInstances()
          : t.maxInstances() - placed.getOrDefault(t.id(), t.maxInstances());
      HostTree.write(tree.deviceDir(pf).resolve("mdev_supported_types/nvidia-" + t.id()
          + "/available_instances"), available + "\n");
    }
  }

  private int count(PciAddress pf, VgpuType t) throws IOException {
    Path devices = tree.deviceDir(pf).resolve("mdev_supported_types/nvidia-" + t.id()
        + "/devices");
    int n = 0;
    try (DirectoryStream<Path> s = Files.newDirectoryStream(devices)) {
      for (Path ignored : s) {
        n++;
      }
    }
    return n;
  }

  private List<String> devices(PciAddress pf) throws IOException {
    List<String> out = new ArrayList<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(tree.deviceDir(pf))) {
      for (Path p : s) {
        if (isDeviceName(p.getFileName().toString())) {
          out.add(p.getFileName().toString());
        }
      }
    }
    return out;
  }
}
