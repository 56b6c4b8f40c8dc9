package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Provisions vGPUs as leases in the host's one lease ledger: choose a GPU (NUMA, fill policy) and
 * a free VF (vendor-specific interface) or a mediated device UUID (legacy mdev, {@link
 * #mdevUuid}), record the lease ({@code ALLOCATED}: the journal entry) before the host is
 * touched, set the VF's type or create the mediated device, mark the lease {@code BOUND}. A
 * failure rolls back (type cleared or device removed, lease released); {@link #recover()}
 * finishes what a crash left. Teardown clears a VF's type only while the VF still carries the
 * lease's type (the same VF is reused by the next tenant) and removes only the lease's own
 * mediated device. Each
 * operation holds the ledger's operation lock, as {@link io.gpuvirt.core.provision.Provisioner}'s
 * do (whose teardown hands a vGPU lease to this class).
 *
 * <pre>{@code
 * VgpuProvisioner p = VgpuProvisioner.on(VgpuDevices.on(sysfs, commands), ledger);
 * Lease lease = p.provision(VgpuRequest.ofType("vm-7", "L40S-1Q"));
 * p.teardown("vm-7");
 * }</pre>
 */
public final class VgpuProvisioner {
  private static final Logger LOG = LoggerFactory.getLogger(VgpuProvisioner.class);

  /**
   * The catalogues gpuvirt ships, by PF id: L40S (10de:26b9), A10 (10de:2236), Tesla T4
   * (10de:1eb8, legacy mdev), H200 SXM (10de:2335, the H200X types), B200 (10de:2901, the
   * inferred B200X types).
   */
  public static final Map<PciId, VgpuTypeCatalogue> DEFAULT_CATALOGUES = Map.of(
      new PciId(0x10de, 0x26b9), VgpuTypeCatalogue.l40s(),
      new PciId(0x10de, 0x2236), VgpuTypeCatalogue.a10(),
      new PciId(0x10de, 0x1eb8), VgpuTypeCatalogue.t4(),
      new PciId(0x10de, 0x2335), VgpuTypeCatalogue.h200x(),
      new PciId(0x10de, 0x2901), VgpuTypeCatalogue.b200x());

  /**
   * How vGPU VMs share Fabric Manager partitions on a host in vGPU mode ({@code FABRIC_MODE=2}).
   * The reference gives the call (a partition activated with its VFs before any vGPU VM starts,
   * even a one-vGPU VM) and the rule that vGPUs talking peer-to-peer are in one VM, but not how
   * Fabric Manager treats two VMs whose vGPUs sit on one GPU (FABRIC.md §4.5), so this is a choice.
   */
  public enum PartitionSharing {
    /**
     * The default: VMs with one vGPU on the same GPU share that GPU's one-GPU partition. The
     * first of them activates it with its VF; the last one torn down deactivates it. A VM with
     * several vGPUs gets a partition of that many GPUs to itself, and no other VM's vGPU is put
     * on its GPUs while it holds it.
     */
    SHARED_SINGLE_GPU,
    /**
     * Every vGPU VM activates its own partition with its own VFs, so a GPU serves one vGPU VM at
     * a time; for a Fabric Manager that refuses a second activation of an active partition.
     */
    EXCLUSIVE
  }

  private final VgpuDevices devices;
  private final LeaseLedger ledger;
  private final Map<PciId, VgpuTypeCatalogue> catalogues;
  private final Clock clock;
  private final Optional<PartitionContext> fabric;
  private final PartitionSharing sharing;

  private VgpuProvisioner(VgpuDevices devices, LeaseLedger ledger,
      Map<PciId, VgpuTypeCatalogue> catalogues, Clock clock, Optional<PartitionContext> fabric,
      PartitionSharing sharing) {
    this.devices = devices;
    this.ledger = ledger;
    this.catalogues = Map.copyOf(catalogues);
    this.clock = clock;
    this.fabric = fabric;
    this.sharing = sharing;
  }

  /** A provisioner with {@link #DEFAULT_CATALOGUES} and the system clock, without Fabric Manager. */
  public static VgpuProvisioner on(VgpuDevices devices, LeaseLedger ledger) {
    return new VgpuProvisioner(devices, ledger, DEFAULT_CATALOGUES, Clock.systemUTC(),
        Optional.empty(), PartitionSharing.SHARED_SINGLE_GPU);
  }

  /** A copy that uses these catalogues (from NVML or {@code nvidia-smi vgpu -s}) instead. */
  public VgpuProvisioner withCatalogues(Map<PciId, VgpuTypeCatalogue> newCatalogues) {
    return new VgpuProvisioner(devices, ledger, newCatalogues, clock, fabric, sharing);
  }

  /**
   * A copy for an NVSwitch host whose Fabric Manager runs in vGPU mode ({@code FABRIC_MODE=2}):
   * each lease names the partition its vGPUs use (the one-GPU partition of its GPU, or for
   * {@link VgpuRequest#withCount several vGPUs} a partition of that many GPUs), which is
   * activated with the lease's VFs, in module-id order, after their types are set and before the
   * lease is bound, and deactivated at teardown before the types are cleared, with {@link
   * PartitionSharing#SHARED_SINGLE_GPU}.
   */
  public VgpuProvisioner withFabric(PartitionContext partitions) {
    return withFabric(partitions, PartitionSharing.SHARED_SINGLE_GPU);
  }

  /** As {@link #withFabric(PartitionContext)}, with this way of sharing partitions. */
  public VgpuProvisioner withFabric(PartitionContext partitions, PartitionSharing newSharing) {
    return new VgpuProvisioner(devices, ledger, catalogues, clock,
        Optional.of(java.util.Objects.requireNonNull(partitions, "partitions")),
        java.util.Objects.requireNonNull(newSharing, "sharing"));
  }

  /**
   * Gives {@code request.owner()} one vGPU, or returns its lease if it already holds a vGPU that
   * satisfies the request (idempotent by owner).
   *
   * @throws AllocationRefusedException naming every GPU and why it cannot take the vGPU (no
   *     such type, full, another type placed, other NUMA node, VFs not enabled)
   * @throws VgpuException if the host step fails (the lease is rolled back)
   */
  public Lease provision(VgpuRequest request) {
    return ledger.underOperationLock(() -> doProvision(request));
  }

  private Lease doProvision(VgpuRequest request) {
    List<VgpuCapability> gpus = devices.capabilities();
    refuseMigBackedOnNvswitch(request, gpus);
    if (fabric.isEmpty() && !gpus.isEmpty() && devices.nvswitchSystem()) {
      throw new AllocationRefusedException(request.owner(), "vGPU " + request.describe()
          + " for " + request.owner() + ": this host is an NVSwitch system, where a vGPU VM "
          + "starts only after Fabric Manager (in vGPU mode, FABRIC_MODE=2) activated its "
          + "partition with its VFs; give this provisioner the host's Fabric Manager "
          + "(VgpuProvisioner.withFabric; GpuHost.vgpuProvisioner() does); nothing was changed");
    }
    Lease lease = ledger.allocateVgpus(request.owner(), existing -> satisfies(existing, request),
        others -> choose(request, gpus, others));
    if (lease.state() == LeaseState.BOUND) {
      return lease;
    }
    try {
      for (VgpuAssignment v : lease.vgpus()) {
        if (v.vf().isPresent()) {
          devices.activate(v.vf().get(), v.type());
        } else {
          devices.createMdev(v.pf(), v.type(), v.mdev().orElseThrow());
        }
      }
      if (lease.partitionId().isPresent()) {
        activatePartition(lease);
      }
    } catch (GpuvirtException e) {
      rollBack(lease, e);
      throw e;
    }
    Lease bound = ledger.updateState(request.owner(), LeaseState.BOUND);
    for (VgpuAssignment v : lease.vgpus()) {
      LOG.info("vGPU {} ({}) at {} on {} leased to {}{}", v.type().id(), v.type().name(),
          v.sysfsPath(), v.pf(), request.owner(), lease.partitionId().isPresent()
              ? " (partition " + lease.partitionId().getAsInt() + ")" : "");
    }
    return bound;
  }

  /**
   * Activates the lease's partition with its VFs (in the order the lease lists them: the
   * partition's GPUs by module id). A partition that is active already counts as activated when
   * another lease shares it or this lease activated it before a crash.
   */
  private void activatePartition(Lease lease) {
    FabricManager fm = fabric.orElseThrow().fabricManager();
    int id = lease.partitionId().getAsInt();
    List<PciAddress> vfs = lease.vgpus().stream().map(v -> v.vf().orElseThrow()).toList();
    try {
      fm.activateWithVirtualFunctions(id, vfs);
    } catch (FabricManagerException e) {
      boolean alreadyActive = e.returnCode() == FmReturnCode.PARTITION_ID_IN_USE
          || (e.returnCode() == FmReturnCode.IN_USE && fm.isActive(id));
      if (!alreadyActive) {
        throw new VgpuException("vGPU lease of " + lease.owner() + ": Fabric Manager refused to"
            + " activate partition " + id + " with VFs " + vfs + " (" + e.getMessage() + "); the"
            + " VFs' types are cleared again and the lease released; check 'gpuvirt partitions"
            + " list' and that fabricmanager.cfg sets FABRIC_MODE=2", e);
      }
      LOG.info("partition {} is active already (shared, or activated before a restart)", id);
    }
  }

  /** Other leases that rely on partition {@code id}. */
  private List<Lease> reliers(int id, String except) {
    return ledger.leases().stream().filter(l -> !l.owner().equals(except))
        .filter(l -> l.partitionId().equals(java.util.OptionalInt.of(id))).toList();
  }

  /** Deactivates the lease's partition unless another lease relies on it. */
  private void deactivatePartitionIfLast(Lease lease) {
    if (lease.partitionId().isEmpty() || fabric.isEmpty()) {
      return;
    }
    int id = lease.partitionId().getAsInt();
    if (reliers(id, lease.owner()).isEmpty()) {
      fabric.get().fabricManager().ensureInactive(id);
    }
  }

  /**
   * On an NVSwitch system only time-sliced vGPUs are supported: a request that can only be met by a
   * MIG-backed type is refused with NVIDIA's reason before anything is recorded.
   */
  private void refuseMigBackedOnNvswitch(VgpuRequest request, List<VgpuCapability> gpus) {
    List<VgpuType> wanted = gpus.stream().map(g -> catalogues.get(g.id()))
        .filter(java.util.Objects::nonNull).map(request::resolve).flatMap(Optional::stream)
        .toList();
    if (!wanted.isEmpty() && wanted.stream().allMatch(VgpuType::migBacked)
        && devices.nvswitchSystem()) {
      throw new AllocationRefusedException(request.owner(), "vGPU " + request.describe()
          + " for " + request.owner() + " is MIG-backed (" + wanted.get(0).name() + "), and "
          + "this host is an NVSwitch system, where NVIDIA supports only time-sliced vGPUs "
          + "(MIG-backed vGPUs are not supported); choose a time-sliced type");
    }
  }

  /**
   * The UUID of the mediated device gpuvirt creates for {@code owner}: a name-based UUID of the
   * owner, so the same lease always names the same device and {@link #recover()} finds it after a
   * crash. A new owner gets a new UUID, so a stale release can never remove the next tenant's
   * device.
   */
  public static UUID mdevUuid(String owner) {
    AllocationRequest.checkOwner(owner);
    return UUID.nameUUIDFromBytes(("gpuvirt-mdev:" + owner).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * An owner's lease answers a request again when it is one vGPU of the asked-for type; where it
   * was placed (NUMA node, fill policy) does not matter once it is placed.
   */
  private static boolean satisfies(Lease existing, VgpuRequest request) {
    return existing.groups().isEmpty() && existing.vgpus().size() == request.count()
        && existing.vgpus().stream().allMatch(v -> request.resolve(VgpuTypeCatalogue.of("lease",
            List.of(v.type()), false)).isPresent());
  }

  private Lease choose(VgpuRequest request, List<VgpuCapability> gpus, List<Lease> others) {
    Set<PciAddress> leasedVfs = new HashSet<>();
    Set<PciAddress> leasedWhole = new HashSet<>();
    Map<PciAddress, String> sliced = new java.util.TreeMap<>();
    for (Lease l : others) {
      l.vgpus().forEach(v -> v.vf().ifPresent(leasedVfs::add));
      l.devices().forEach(d -> leasedWhole.add(d.address()));
      l.migs().forEach(m -> sliced.putIfAbsent(m.gpu(), l.owner()));
    }
    List<String> refusals = new ArrayList<>();
    List<Candidate> candidates = new ArrayList<>();
    for (VgpuCapability gpu : gpus) {
      VgpuTypeCatalogue catalogue = catalogues.get(gpu.id());
      Optional<VgpuType> type = catalogue == null ? Optional.empty() : request.resolve(catalogue);
      if (catalogue == null) {
        refusals.add(gpu.pf() + ": no vGPU type catalogue for " + gpu.id());
      } else if (type.isEmpty()) {
        refusals.add(gpu.pf() + ": " + catalogue.card() + " has no type " + request.describe());
      } else if (request.numaNode().isPresent() && gpu.numaNode() != request.numaNode().getAsInt()) {
        refusals.add(gpu.pf() + ": on NUMA node " + gpu.numaNode());
      } else if (leasedWhole.contains(gpu.pf())) {
        refusals.add(gpu.pf() + ": leased whole");
      } else if (sliced.containsKey(gpu.pf())) {
        // The driver, not gpuvirt, picks the GPU instance a MIG-backed vGPU takes: it could take
        // a slice leased to someone else, so a GPU serves MIG slice leases or vGPUs, not both.
        refusals.add(gpu.pf() + ": its MIG slices are leased (to " + sliced.get(gpu.pf())
            + "); a GPU serves MIG slice leases or vGPUs, not both");
      } else if (gpu.vgpuInterface() == VgpuInterface.LEGACY_MDEV) {
        Map<UUID, Integer> placedMdevs = devices.mdevs(gpu.pf());
        List<String> placedTypes = placedMdevs.values().stream().distinct()
            .map(id -> catalogue.byId(id).map(VgpuType::name).orElse("type " + id)).toList();
        Optional<MdevType> offered = devices.mdevTypes(gpu.pf()).stream()
            .filter(t -> t.id() == type.get().id()).findFirst();
        if (offered.isPresent() && offered.get().availableInstances() > 0) {
          candidates.add(new Candidate(gpu, type.get(), Optional.empty(), placedMdevs.size()));
        } else if (offered.isEmpty()) {
          refusals.add(gpu.pf() + ": the driver offers no mdev type " + type.get().id());
        } else if (!placedMdevs.isEmpty() && !placedTypes.contains(type.get().name())) {
          refusals.add(gpu.pf() + ": holds " + placedTypes + " (homogeneous: one type per GPU)");
        } else {
          refusals.add(gpu.pf() + ": the GPU is full (" + placedMdevs.size() + " vGPUs placed)");
        }
      } else if (!gpu.vfsEnabled()) {
        refusals.add(gpu.pf() + ": VFs not enabled (gpuvirt vgpu enable " + gpu.pf() + ")");
      } else {
        int placed = 0;
        Optional<PciAddress> free = Optional.empty();
        List<VgpuType> placedTypes = new ArrayList<>();
        for (PciAddress vf : gpu.virtualFunctions()) {
          int current = devices.currentType(vf);
          if (current != 0) {
            placed++;
            catalogue.byId(current).ifPresent(placedTypes::add);
          } else if (free.isEmpty() && !leasedVfs.contains(vf)) {
            free = Optional.of(vf);
          }
        }
        boolean creatable = free.isPresent()
            && devices.creatable(free.get()).stream().anyMatch(e -> e.id() == type.get().id());
        if (creatable) {
          candidates.add(new Candidate(gpu, type.get(), free, placed));
        } else if (free.isPresent() && type.get().migBacked()) {
          refusals.add(gpu.pf() + ": no VF offers the MIG-backed " + type.get().name() + " ("
              + placed + " vGPUs placed): it needs MIG mode on and a free GPU instance of "
              + "profile " + type.get().gpuInstanceProfileName().orElse("(unknown)")
              + "; ensure MIG mode is enabled and enough GPU instances have been created "
              + "(gpuvirt mig apply)");
        } else if (free.isPresent() && placed == 0) {
          refusals.add(gpu.pf() + ": no VF offers " + type.get().name() + " although no vGPU "
              + "is placed (a GPU in MIG mode offers only MIG-backed types; gpuvirt mig status)");
        } else if (free.isPresent() && placed > 0 && !placedTypes.contains(type.get())) {
          refusals.add(gpu.pf() + ": holds " + placedTypes.stream().map(VgpuType::name).distinct()
              .toList() + " and cannot take " + type.get().name() + " beside them (homogeneous "
              + "mode: one type per GPU; heterogeneous mode: not enough framebuffer left)");
        } else {
          refusals.add(gpu.pf() + ": the GPU is full (" + placed + " vGPUs placed)");
        }
      }
    }
    if (request.count() > 1) {
      // the VM's UUID must be its mediated device's, and a VM has one UUID
      candidates.stream().filter(c -> c.vf().isEmpty()).forEach(c -> refusals.add(c.gpu().pf()
          + ": legacy mdev gives a VM one vGPU (the VM's UUID is its mediated device's)"));
      candidates.removeIf(c -> c.vf().isEmpty());
    }
    Comparator<Candidate> order = Comparator.comparingInt(Candidate::placed);
    if (request.fill() == VgpuRequest.Fill.PACK) {
      order = order.reversed();
    }
    order = order.thenComparing(c -> c.gpu().pf());
    candidates.sort(order);
    List<Candidate> chosen;
    java.util.OptionalInt partition = java.util.OptionalInt.empty();
    if (fabric.isPresent()) {
      PartitionChoice pc = choosePartition(request, candidates, others, refusals);
      chosen = pc.gpus();
      partition = java.util.OptionalInt.of(pc.partitionId());
    } else if (candidates.size() >= request.count()) {
      chosen = List.copyOf(candidates.subList(0, request.count()));
    } else {
      chosen = List.of();
    }
    if (chosen.isEmpty()) {
      throw new AllocationRefusedException(request.owner(), "no GPU can take " + (request.count()
          > 1 ? request.count() + " vGPUs " : "a vGPU ") + request.describe() + " for "
          + request.owner() + ": " + (gpus.isEmpty()
              ? "this host has no GPU with vGPU support (SR-IOV VFs or legacy mdev)"
              : request.count() > candidates.size() && fabric.isEmpty()
                  ? "only " + candidates.size() + " GPUs can take one (each vGPU of a VM goes on"
                      + " another GPU); " + refusals
                  : refusals));
    }
    List<VgpuAssignment> assignments = new ArrayList<>();
    List<String> reasons = new ArrayList<>();
    for (Candidate c : chosen) {
      VgpuAssignment a = c.vf().isPresent()
          ? VgpuAssignment.onVf(c.gpu().pf(), c.vf().get(), c.type())
          : VgpuAssignment.onMdev(c.gpu().pf(), mdevUuid(request.owner()), c.type());
      assignments.add(a);
      reasons.add("vGPU " + c.type().name() + " on " + c.vf().map(vf -> "VF " + vf)
          .orElseGet(() -> "mediated device " + a.mdev().orElseThrow()) + " of "
          + c.gpu().pf() + " (NUMA node " + c.gpu().numaNode() + ", "
          + c.placed() + " vGPUs placed before, fill " + request.fill() + ")");
    }
    if (partition.isPresent()) {
      reasons.add("Fabric Manager partition " + partition.getAsInt() + ", activated with the "
          + "VFs in module-id order (vGPU mode, sharing " + sharing + ")");
    }
    AllocationRequest allocation = AllocationRequest.builder(request.owner())
        .selector(DeviceSelector.addresses(chosen.stream().map(c -> c.gpu().pf()).toList()))
        .build();
    return new Lease(request.owner(), LeaseOrigin.PROVISION, LeaseState.ALLOCATED, allocation,
        List.of(), partition, reasons, clock.instant(), Optional.empty(), assignments);
  }

  /** A GPU that can take the requested vGPU now, on {@code vf} (empty for an mdev). */
  private record Candidate(VgpuCapability gpu, VgpuType type, Optional<PciAddress> vf,
      int placed) {}

  /** The GPUs of the chosen partition, in module-id order (empty when none), and its id. */
  private record PartitionChoice(List<Candidate> gpus, int partitionId) {}

  /**
   * On a host in Fabric Manager vGPU mode: the partition of {@code request.count()} GPUs that
   * the vGPUs go on, the first that every rule lets through, in the order of {@code candidates}
   * (the fill policy) and then by partition id. A partition is free for one vGPU when it is the
   * GPU's one-GPU partition and either no lease relies on it, or ({@link
   * PartitionSharing#SHARED_SINGLE_GPU}) only other one-vGPU leases do; in both cases no other
   * active or leased partition may overlap it. A partition for several vGPUs must be inactive,
   * relied on by no lease and overlap no active or leased partition: its GPUs carry no other VM's
   * vGPU ("all vGPUs communicating peer-to-peer must be assigned to the same VM").
   */
  private PartitionChoice choosePartition(VgpuRequest request, List<Candidate> candidates,
      List<Lease> others, List<String> refusals) {
    PartitionContext context = fabric.orElseThrow();
    List<FabricPartition> listing = context.fabricManager().listPartitions();
    Map<Integer, List<Lease>> relied = new java.util.TreeMap<>();
    for (Lease l : others) {
      l.partitionId().ifPresent(id -> relied.computeIfAbsent(id, k -> new ArrayList<>()).add(l));
    }
    Map<PciAddress, Candidate> byPf = new java.util.LinkedHashMap<>();
    candidates.forEach(c -> byPf.put(c.gpu().pf(), c));
    Map<Integer, List<PciAddress>> gpusOf = new java.util.HashMap<>();
    listing.stream().filter(p -> p.size() == request.count())
        .forEach(p -> gpusOf.put(p.id(), context.moduleIds().addressesOf(p)));
    List<FabricPartition> sized = listing.stream().filter(p -> gpusOf.containsKey(p.id()))
        .sorted(Comparator.comparingInt((FabricPartition p) -> firstIndex(gpusOf.get(p.id()),
            candidates)).thenComparingInt(FabricPartition::id))
        .toList();
    if (sized.isEmpty()) {
      refusals.add("Fabric Manager has no partition of " + request.count() + " GPUs");
    }
    for (FabricPartition p : sized) {
      List<PciAddress> pfs = gpusOf.get(p.id());
      List<PciAddress> notCandidates = pfs.stream().filter(pf -> !byPf.containsKey(pf)).toList();
      if (!notCandidates.isEmpty()) {
        if (request.count() > 1) {
          refusals.add("partition " + p.id() + ": " + notCandidates + " cannot take the vGPU");
        }
        continue;
      }
      Optional<String> blocked = blocked(p, listing, relied, request.count());
      if (blocked.isPresent()) {
        refusals.add(pfs + ": " + blocked.get());
      } else {
        return new PartitionChoice(pfs.stream().map(byPf::get).toList(), p.id());
      }
    }
    return new PartitionChoice(List.of(), -1);
  }

  /** The position of the best of these GPUs in the fill order (partitions of free GPUs first). */
  private static int firstIndex(List<PciAddress> pfs, List<Candidate> order) {
    for (int i = 0; i < order.size(); i++) {
      if (pfs.contains(order.get(i).gpu().pf())) {
        return i;
      }
    }
    return Integer.MAX_VALUE;
  }

  /** Why partition {@code p} cannot take {@code count} vGPUs of a new lease, if it cannot. */
  private Optional<String> blocked(FabricPartition p, List<FabricPartition> listing,
      Map<Integer, List<Lease>> relied, int count) {
    List<Lease> reliers = relied.getOrDefault(p.id(), List.of());
    if (!reliers.isEmpty()) {
      List<String> owners = reliers.stream().map(Lease::owner).toList();
      if (count > 1 || sharing == PartitionSharing.EXCLUSIVE
          || reliers.stream().anyMatch(l -> l.vgpus().size() > 1)) {
        return Optional.of("Fabric Manager partition " + p.id() + " is held by " + owners
            + (sharing == PartitionSharing.EXCLUSIVE && count == 1
                ? " (partition sharing EXCLUSIVE: one vGPU VM per partition)"
                : " (vGPUs that talk peer-to-peer must be in one VM)"));
      }
    } else if (p.active()) {
      return Optional.of("Fabric Manager partition " + p.id() + " is active but no lease holds "
          + "it; gpuvirt recover deactivates it (a partition no lease relies on)");
    }
    for (FabricPartition q : listing) {
      if (q.id() == p.id() || !q.overlaps(p)) {
        continue;
      }
      List<Lease> qReliers = relied.getOrDefault(q.id(), List.of());
      if (!qReliers.isEmpty()) {
        return Optional.of("its GPUs are in Fabric Manager partition " + q.id() + ", held by "
            + qReliers.stream().map(Lease::owner).toList() + " (Fabric Manager allows one "
            + "active partition per GPU; vGPUs that talk peer-to-peer must be in one VM)");
      }
      if (q.active()) {
        return Optional.of("its GPUs are in active Fabric Manager partition " + q.id()
            + ", which no lease holds; gpuvirt recover deactivates it");
      }
    }
    return Optional.empty();
  }

  private void rollBack(Lease lease, GpuvirtException cause) {
    try {
      deactivatePartitionIfLast(lease);
    } catch (GpuvirtException e) {
      cause.addSuppressed(e);
      LOG.error("rollback of {}: partition {} may still be active; the lease stays so recover() "
          + "can deactivate it", lease.owner(), lease.partitionId(), e);
      return;
    }
    for (VgpuAssignment v : lease.vgpus()) {
      try {
        clear(lease.owner(), v);
      } catch (GpuvirtException e) {
        cause.addSuppressed(e);
        LOG.error("rollback of {}: {} may still carry vGPU type {}; the lease stays so recover() "
            + "can clear it", lease.owner(), v.sysfsPath(), v.type().id(), e);
        return;
      }
    }
    ledger.release(lease.owner());
  }

  /**
   * Undoes one assignment on the host if it is still the lease's: a VF's type is cleared only
   * while it is the lease's type; the lease's own mediated device (its UUID is the owner's) is
   * removed.
   */
  private void clear(String owner, VgpuAssignment v) {
    if (v.vf().isPresent()) {
      PciAddress vf = v.vf().get();
      int current = devices.currentType(vf);
      if (current == v.type().id()) {
        devices.deactivate(vf);
      } else if (current != 0) {
        LOG.warn("teardown of {}: VF {} carries type {}, not the lease's {}; left alone", owner,
            vf, current, v.type().id());
      }
    } else {
      devices.removeMdev(v.mdev().orElseThrow());
    }
  }

  /**
   * Tears down the owner's vGPUs: each VF that still carries the lease's type gets type 0 (one
   * that carries another type now is someone else's and is left alone), then the lease is
   * released. Idempotent: an owner without a lease changes nothing.
   *
   * @return the lease released, empty when the owner held none
   * @throws VgpuException if a VF cannot be cleared (the lease stays)
   */
  public Optional<Lease> teardown(String owner) {
    AllocationRequest.checkOwner(owner);
    return ledger.underOperationLock(() -> doTeardown(owner));
  }

  private Optional<Lease> doTeardown(String owner) {
    Optional<Lease> lease = ledger.lease(owner);
    if (lease.isEmpty()) {
      return Optional.empty();
    }
    if (lease.get().partitionId().isPresent() && fabric.isEmpty()) {
      throw new VgpuException("vGPU lease of " + owner + " uses Fabric Manager partition "
          + lease.get().partitionId().getAsInt() + " (vGPU mode), and this provisioner has no "
          + "Fabric Manager; tear it down with VgpuProvisioner.withFabric (gpuvirt teardown does);"
          + " nothing was changed");
    }
    Lease l = lease.get();
    if (l.state() == LeaseState.BOUND && (l.vgpus().size() > 1 || l.partitionId().isPresent())) {
      // more than one host step: journal the teardown, so that recover() finishes it
      l = ledger.updateState(owner, LeaseState.TEARING_DOWN);
    }
    // the VM is gone: its partition first (unless another VM shares it), then the VFs' types
    deactivatePartitionIfLast(l);
    for (VgpuAssignment v : l.vgpus()) {
      clear(owner, v);
    }
    return ledger.release(owner);
  }

  /**
   * Brings vGPU leases and VFs back to agreement after a crash: a lease still {@code ALLOCATED}
   * (the process died between recording it and binding it) is rolled back (its VF's type cleared
   * if set, or its mediated device removed if it was created; the lease released), a teardown
   * journalled as {@code TEARING_DOWN} (a lease with several vGPUs or a partition) is finished,
   * and a VF of a
   * vendor-specific GPU that carries a type no lease holds gets type 0, so no VF is left with a
   * type and no lease. With a Fabric Manager ({@link #withFabric}), a partition that is active
   * but that no lease relies on is deactivated. gpuvirt assumes it manages every VF of a GPU whose
   * VFs it enabled, and every partition of a host in vGPU mode. A
   * mediated device no lease holds is reported, not removed: the lease is recorded before its
   * device is created and released only after it is removed, so such a device is another
   * tool's.
   *
   * @return what was done, one line per action
   */
  public List<String> recover() {
    return ledger.underOperationLock(this::doRecover);
  }

  private List<String> doRecover() {
    List<String> actions = new ArrayList<>();
    for (Lease lease : ledger.leases()) {
      if (!lease.vgpus().isEmpty() && lease.groups().isEmpty()
          && (lease.state() == LeaseState.ALLOCATED || lease.state() == LeaseState.TEARING_DOWN)) {
        doTeardown(lease.owner());
        actions.add(lease.state() == LeaseState.ALLOCATED
            ? "rolled back the unfinished vGPU lease of " + lease.owner()
            : "finished the interrupted teardown of the vGPU lease of " + lease.owner());
      }
    }
    if (fabric.isPresent()) {
      Set<Integer> relied = new HashSet<>();
      ledger.leases().forEach(l -> l.partitionId().ifPresent(relied::add));
      FabricManager fm = fabric.get().fabricManager();
      for (FabricPartition p : fm.listPartitions()) {
        if (p.active() && !relied.contains(p.id()) && fm.ensureInactive(p.id())) {
          actions.add("deactivated partition " + p.id() + " (no lease relied on it)");
        }
      }
    }
    Set<PciAddress> held = new HashSet<>();
    ledger.leases().forEach(l -> l.vgpus().forEach(v -> v.vf().ifPresent(held::add)));
    Set<UUID> heldMdevs = new HashSet<>();
    ledger.leases().forEach(l -> l.vgpus().forEach(v -> v.mdev().ifPresent(heldMdevs::add)));
    for (VgpuCapability gpu : devices.capabilities()) {
      if (gpu.vgpuInterface() == VgpuInterface.LEGACY_MDEV) {
        devices.mdevs(gpu.pf()).forEach((uuid, type) -> {
          if (!heldMdevs.contains(uuid)) {
            actions.add("left mediated device " + uuid + " (type " + type + ") on " + gpu.pf()
                + " alone: no lease holds it, and gpuvirt creates only its leases' devices; "
                + "remove it (echo 1 > /sys/bus/mdev/devices/" + uuid + "/remove) if no other "
                + "tool owns it");
          }
        });
        continue;
      }
      for (PciAddress vf : gpu.virtualFunctions()) {
        int current = devices.currentType(vf);
        if (current != 0 && !held.contains(vf)) {
          devices.deactivate(vf);
          actions.add("cleared type " + current + " from VF " + vf + " (no lease held it)");
        }
      }
    }
    return List.copyOf(actions);
  }
}
