package io.gpuvirt.testkit;

import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.vgpu.CreatableVgpuTypes;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the NVIDIA vGPU host driver does with a VF's {@code nvidia/} directory (VGPU_MIG.md §2.2):
 * each VF of a vGPU-capable PF gets {@code creatable_vgpu_types} and {@code current_vgpu_type}
 * when its VFs are enabled. A homogeneous GPU (the default): until a VF takes a type every VF lists
 * the card's whole catalogue; then the free VFs list only that type while fewer than its maximum
 * are placed, and nothing (header only) when the GPU is full. A GPU in heterogeneous mode
 * ({@link #setHeterogeneous}) lists every type that still fits the card's framebuffer. A VF that carries a type lists nothing.
 * Writing an id that the VF does not list fails with EINVAL, writing a type to a VF that carries
 * one with EBUSY (both errnos inferred; the real driver's are not in the reference).
 *
 * <p>MIG: a GPU whose MIG mode is on ({@link SimulatedMig}) hosts only MIG-backed vGPUs, and a
 * GPU whose MIG mode is off only time-sliced ones (NVIDIA: "ensure MIG mode is enabled and enough
 * GPU instances have been created" for a MIG-backed type). With MIG on, a free VF lists each
 * MIG-backed type whose GPU-instance profile ({@link VgpuType#gpuInstanceProfileName()}) has a GPU
 * instance no vGPU occupies; taking the type occupies the lowest-id such instance, one vGPU per
 * instance, until the VF's type is cleared; an occupied instance cannot be destroyed ("In use by
 * another client"). The choice of instance and the one-per-instance rule are inferred (the VF
 * interface names no instance).
 */
final class VgpuModel {
  /** The driver's type tables: the ones gpuvirt ships (an SR-IOV PF's; T4 is legacy mdev). */
  private static final Map<PciId, VgpuTypeCatalogue> CATALOGUES =
      io.gpuvirt.core.vgpu.VgpuProvisioner.DEFAULT_CATALOGUES;

  private final HostProfile profile;
  private final HostTree tree;

  VgpuModel(HostProfile profile, HostTree tree) {
    this.profile = profile;
    this.tree = tree;
  }

  /** The catalogue of a PF whose VFs run the NVIDIA vGPU driver, if it is one. */
  Optional<VgpuTypeCatalogue> catalogue(PciAddress pf) {
    return profile.device(pf)
        .filter(d -> d.sriov().flatMap(DeviceSpec.SriovSpec::vfDriver)
            .equals(Optional.of("nvidia")))
        .map(d -> CATALOGUES.get(d.id()));
  }

  /**
   * Gives the new VFs of a vGPU PF their {@code nvidia/} directory; the GPU starts homogeneous
   * (enabling VFs resets heterogeneous mode, as {@code sriov-manage -e} does).
   */
  void vfsCreated(PciAddress pf, List<DeviceSpec> vfs, HostState state) throws IOException {
    if (catalogue(pf).isEmpty()) {
      return;
    }
    if (state.heterogeneousVgpu.remove(pf)) {
      state.changed();
    }
    for (DeviceSpec vf : vfs) {
      Path dir = tree.deviceDir(vf.address()).resolve("nvidia");
      Files.createDirectories(dir);
      HostTree.write(dir.resolve("current_vgpu_type"), "0\n");
      HostTree.write(dir.resolve("creatable_vgpu_types"), CreatableVgpuTypes.render(List.of()));
    }
    refresh(pf, state);
  }

  /** Outcomes of {@code nvidia-smi vgpu -shm}, with the tool's exit codes (NEXT.md §2). */
  enum ModeChange {
    CHANGED(0), NOT_A_VGPU_GPU(6), NOT_SUPPORTED(3), IN_USE(19);

    final int exitCode;

    ModeChange(int exitCode) {
      this.exitCode = exitCode;
    }
  }

  /**
   * Sets heterogeneous mode on or off: refused while a VF carries a type (rc 19, "In use by
   * another client"), on a card whose catalogue does not support mixed sizes (rc 3), or on a
   * device that is not a vGPU GPU with VFs enabled (rc 6).
   */
  ModeChange setHeterogeneous(PciAddress pf, boolean on, HostState state) throws IOException {
    Optional<VgpuTypeCatalogue> catalogue = catalogue(pf);
    if (catalogue.isEmpty() || tree.virtualFunctions(pf).isEmpty()) {
      return ModeChange.NOT_A_VGPU_GPU;
    }
    if (!catalogue.get().mixedSizes()) {
      return ModeChange.NOT_SUPPORTED;
    }
    if (anyActive(pf)) {
      return ModeChange.IN_USE;
    }
    if (on ? state.heterogeneousVgpu.add(pf) : state.heterogeneousVgpu.remove(pf)) {
      state.changed();
    }
    refresh(pf, state);
    return ModeChange.CHANGED;
  }

  /** True when a VF of the PF carries a type (the driver refuses to disable SR-IOV then). */
  boolean anyActive(PciAddress pf) throws IOException {
    if (catalogue(pf).isEmpty()) {
      return false;
    }
    for (int id : current(pf).values()) {
      if (id != 0) {
        return true;
      }
    }
    return false;
  }

  /** A write to {@code <VF>/nvidia/<file>}. */
  void write(String hostPath, PciAddress vf, String file, String value, HostState state)
      throws IOException {
    Path physfn = tree.deviceDir(vf).resolve("physfn");
    if (!file.equals("current_vgpu_type") || !Files.isSymbolicLink(physfn)) {
      throw new KernelModel.KernelError(hostPath, KernelModel.Errno.EACCES);
    }
    PciAddress pf = PciAddress.parse(Files.readSymbolicLink(physfn).getFileName().toString());
    String text = value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
    if (!text.matches("[0-9]{1,9}")) {
      throw new KernelModel.KernelError(hostPath, KernelModel.Errno.EINVAL);
    }
    int id = Integer.parseInt(text);
    Path current = tree.deviceDir(vf).resolve("nvidia/current_vgpu_type");
    Optional<Integer> occupied = Optional.empty();
    if (id != 0) {
      if (readId(current) != 0) {
        throw new KernelModel.KernelError(hostPath, KernelModel.Errno.EBUSY);
      }
      Optional<List<FreeInstance>> mig = migInstances(pf, state);
      Optional<VgpuType> type = creatable(pf, vf, state, current(pf), mig).stream()
          .filter(t -> t.id() == id).findFirst();
      if (type.isEmpty()) {
        throw new KernelModel.KernelError(hostPath, KernelModel.Errno.EINVAL);
      }
      if (type.get().migBacked()) {
        occupied = mig.orElseThrow().stream().filter(gi -> gi.profile()
            .equals(type.get().gpuInstanceProfileName().orElseThrow())).map(FreeInstance::id)
            .findFirst();
      }
    }
    HostTree.write(current, id + "\n");
    if (occupied.isPresent()) {
      state.migVgpus.put(vf, occupied.get());
      state.changed();
    } else if (id == 0 && state.migVgpus.remove(vf) != null) {
      state.changed();
    }
    refresh(pf, state);
  }

  /**
   * Rewrites the creatable lists of the VFs of {@code vf}'s physical function when it is
   * MIG-capable (its GPU instances, which change without a sysfs write, decide the list); other
   * GPUs' lists change only with writes, so they are left as they are.
   */
  void refreshFor(PciAddress vf, HostState state) throws IOException {
    Path physfn = tree.deviceDir(vf).resolve("physfn");
    if (Files.isSymbolicLink(physfn)) {
      PciAddress pf = PciAddress.parse(Files.readSymbolicLink(physfn).getFileName().toString());
      if (migTable(pf).isPresent() && catalogue(pf).isPresent()) {
        refresh(pf, state);
      }
    }
  }

  /** A GPU instance of a PF that no MIG-backed vGPU occupies: its id and profile name. */
  private record FreeInstance(int id, String profile) {}

  /** The MIG profile table of the PF's GPU model, if it has MIG. */
  private Optional<MigProfileTable> migTable(PciAddress pf) {
    return profile.device(pf).flatMap(d -> MigProfileTable.builtInFor(d.id().device()));
  }

  /**
   * With the PF's MIG mode on (current), its GPU instances no vGPU occupies, by id; empty while
   * MIG is off (the GPU then hosts time-sliced vGPUs only). Read once per write or refresh.
   */
  private Optional<List<FreeInstance>> migInstances(PciAddress pf, HostState state)
      throws IOException {
    SimulatedMig.GpuMig mig = SimulatedMig.read(tree.root())
        .getOrDefault(pf, SimulatedMig.GpuMig.OFF);
    if (mig.mode().current() != MigMode.State.ENABLED) {
      return Optional.empty();
    }
    Optional<MigProfileTable> table = migTable(pf);
    if (table.isEmpty()) {
      return Optional.of(List.of());
    }
    java.util.Set<Integer> taken = new java.util.HashSet<>();
    for (PciAddress vf : tree.virtualFunctions(pf)) {
      Integer gi = state.migVgpus.get(vf);
      if (gi != null) {
        taken.add(gi);
      }
    }
    return Optional.of(mig.gis().stream().filter(gi -> !taken.contains(gi.id()))
        .sorted(java.util.Comparator.comparingInt(SimulatedMig.Gi::id))
        .map(gi -> new FreeInstance(gi.id(), table.get().profile(gi.profileId()).name()))
        .toList());
  }

  private void refresh(PciAddress pf, HostState state) throws IOException {
    Map<PciAddress, Integer> current = current(pf);
    Optional<List<FreeInstance>> mig = migInstances(pf, state);
    for (PciAddress vf : current.keySet()) {
      Path file = tree.deviceDir(vf).resolve("nvidia/creatable_vgpu_types");
      List<CreatableVgpuTypes.Entry> entries = creatable(pf, vf, state, current, mig).stream()
          .map(t -> new CreatableVgpuTypes.Entry(t.id(), t.name())).toList();
      HostTree.write(file, CreatableVgpuTypes.render(entries));
    }
  }

  /**
   * The types VF {@code vf} of {@code pf} can take now. In heterogeneous mode, every type of which
   * fewer than its maximum are placed and whose framebuffer fits in what the placed vGPUs leave of
   * the card's (inferred: the real driver also has placement rules not modelled here). With
   * {@code mig} (MIG on: its free instances), the MIG-backed types those instances can host.
   */
  private List<VgpuType> creatable(PciAddress pf, PciAddress vf, HostState state,
      Map<PciAddress, Integer> current, Optional<List<FreeInstance>> mig) {
    VgpuTypeCatalogue catalogue = catalogue(pf).orElseThrow();
    if (current.getOrDefault(vf, 0) != 0) {
      return List.of();
    }
    if (mig.isPresent()) {
      List<String> free = mig.get().stream().map(FreeInstance::profile).toList();
      return catalogue.types().stream().filter(VgpuType::migBacked)
          .filter(t -> t.gpuInstanceProfileName().filter(free::contains).isPresent()).toList();
    }
    List<VgpuType> timeSliced = catalogue.types().stream().filter(t -> !t.migBacked()).toList();
    List<Integer> placed = new ArrayList<>();
    current.values().stream().filter(id -> id != 0).forEach(placed::add);
    if (placed.isEmpty()) {
      return timeSliced;
    }
    if (state.heterogeneousVgpu.contains(pf)) {
      long used = placed.stream().mapToLong(id -> catalogue.byId(id).orElseThrow()
          .framebufferMib()).sum();
      return timeSliced.stream()
          .filter(t -> placed.stream().filter(id -> id == t.id()).count() < t.maxInstances())
          .filter(t -> used + t.framebufferMib() <= catalogue.cardFramebufferMib())
          .toList();
    }
    VgpuType type = catalogue.byId(placed.get(0)).orElseThrow();
    return placed.size() < type.maxInstances() ? List.of(type) : List.of();
  }

  private Map<PciAddress, Integer> current(PciAddress pf) throws IOException {
    Map<PciAddress, Integer> out = new LinkedHashMap<>();
    for (PciAddress vf : tree.virtualFunctions(pf)) {
      Path file = tree.deviceDir(vf).resolve("nvidia/current_vgpu_type");
      out.put(vf, Files.exists(file) ? readId(file) : 0);
    }
    return out;
  }

  private static int readId(Path file) throws IOException {
    String text = HostTree.read(file).strip();
    return text.isEmpty() ? 0 : Integer.parseInt(text);
  }
}
