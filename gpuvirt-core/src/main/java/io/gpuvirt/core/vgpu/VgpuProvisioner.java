package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
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
   * (10de:1eb8, legacy mdev), H200 SXM (10de:2335, the H200X types).
   */
  public static final Map<PciId, VgpuTypeCatalogue> DEFAULT_CATALOGUES = Map.of(
      new PciId(0x10de, 0x26b9), VgpuTypeCatalogue.l40s(),
      new PciId(0x10de, 0x2236), VgpuTypeCatalogue.a10(),
      new PciId(0x10de, 0x1eb8), VgpuTypeCatalogue.t4(),
      new PciId(0x10de, 0x2335), VgpuTypeCatalogue.h200x());

  private final VgpuDevices devices;
  private final LeaseLedger ledger;
  private final Map<PciId, VgpuTypeCatalogue> catalogues;
  private final Clock clock;

  private VgpuProvisioner(VgpuDevices devices, LeaseLedger ledger,
      Map<PciId, VgpuTypeCatalogue> catalogues, Clock clock) {
    this.devices = devices;
    this.ledger = ledger;
    this.catalogues = Map.copyOf(catalogues);
    this.clock = clock;
  }

  /** A provisioner with {@link #DEFAULT_CATALOGUES} and the system clock. */
  public static VgpuProvisioner on(VgpuDevices devices, LeaseLedger ledger) {
    return new VgpuProvisioner(devices, ledger, DEFAULT_CATALOGUES, Clock.systemUTC());
  }

  /** A copy that uses these catalogues (from NVML or {@code nvidia-smi vgpu -s}) instead. */
  public VgpuProvisioner withCatalogues(Map<PciId, VgpuTypeCatalogue> newCatalogues) {
    return new VgpuProvisioner(devices, ledger, newCatalogues, clock);
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
    Lease lease = ledger.allocateVgpus(request.owner(), existing -> satisfies(existing, request),
        others -> choose(request, gpus, others));
    VgpuAssignment v = lease.vgpus().get(0);
    if (lease.state() == LeaseState.BOUND) {
      return lease;
    }
    try {
      if (v.vf().isPresent()) {
        devices.activate(v.vf().get(), v.type());
      } else {
        devices.createMdev(v.pf(), v.type(), v.mdev().orElseThrow());
      }
    } catch (GpuvirtException e) {
      rollBack(lease, e);
      throw e;
    }
    Lease bound = ledger.updateState(request.owner(), LeaseState.BOUND);
    LOG.info("vGPU {} ({}) at {} on {} leased to {}", v.type().id(), v.type().name(),
        v.sysfsPath(), v.pf(), request.owner());
    return bound;
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
    return existing.groups().isEmpty() && existing.vgpus().size() == 1
        && request.resolve(VgpuTypeCatalogue.of("lease", List.of(existing.vgpus().get(0).type()),
            false)).isPresent();
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
    record Candidate(VgpuCapability gpu, VgpuType type, Optional<PciAddress> vf, int placed) {}
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
    Comparator<Candidate> order = Comparator.comparingInt(Candidate::placed);
    if (request.fill() == VgpuRequest.Fill.PACK) {
      order = order.reversed();
    }
    order = order.thenComparing(c -> c.gpu().pf());
    Candidate best = candidates.stream().min(order).orElseThrow(() ->
        new AllocationRefusedException(request.owner(), "no GPU can take a vGPU "
            + request.describe() + " for " + request.owner() + ": " + (gpus.isEmpty()
                ? "this host has no GPU with vGPU support (SR-IOV VFs or legacy mdev)"
                : refusals)));
    VgpuAssignment assignment = best.vf().isPresent()
        ? VgpuAssignment.onVf(best.gpu().pf(), best.vf().get(), best.type())
        : VgpuAssignment.onMdev(best.gpu().pf(), mdevUuid(request.owner()), best.type());
    AllocationRequest allocation = AllocationRequest.builder(request.owner())
        .selector(DeviceSelector.addresses(List.of(best.gpu().pf()))).build();
    String reason = "vGPU " + best.type().name() + " on " + best.vf().map(vf -> "VF " + vf)
        .orElseGet(() -> "mediated device " + assignment.mdev().orElseThrow()) + " of "
        + best.gpu().pf() + " (NUMA node " + best.gpu().numaNode() + ", "
        + best.placed() + " vGPUs placed before, fill " + request.fill() + ")";
    return new Lease(request.owner(), LeaseOrigin.PROVISION, LeaseState.ALLOCATED, allocation,
        List.of(), java.util.OptionalInt.empty(), List.of(reason), clock.instant(),
        Optional.empty(), List.of(assignment));
  }

  private void rollBack(Lease lease, GpuvirtException cause) {
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
    for (VgpuAssignment v : lease.get().vgpus()) {
      clear(owner, v);
    }
    return ledger.release(owner);
  }

  /**
   * Brings vGPU leases and VFs back to agreement after a crash: a lease still {@code ALLOCATED}
   * (the process died between recording it and binding it) is rolled back (its VF's type cleared
   * if set, or its mediated device removed if it was created; the lease released), and a VF of a
   * vendor-specific GPU that carries a type no lease holds gets type 0, so no VF is left with a
   * type and no lease. gpuvirt assumes it manages every VF of a GPU whose VFs it enabled. A
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
      if (lease.state() == LeaseState.ALLOCATED && !lease.vgpus().isEmpty()
          && lease.groups().isEmpty()) {
        doTeardown(lease.owner());
        actions.add("rolled back the unfinished vGPU lease of " + lease.owner());
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
