package io.gpuvirt.core.alloc;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.mig.MigAssignment;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import java.time.Instant;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Whole IOMMU groups reserved for one owner: the answer to an {@link AllocationRequest}.
 *
 * @param owner the owner ({@code vm-42}); one lease per owner
 * @param origin which operation made it (provisioning or a manual binding)
 * @param state where the lease is in its life
 * @param request the request it answers (asking again with an equal request returns this lease)
 * @param groups the IOMMU groups, sorted by number, each with every member device
 * @param partitionId the Fabric Manager partition, when the host shares NVSwitches
 * @param reasons why these groups (or this partition) were chosen, for operators
 * @param createdAt when the lease was made
 * @param expiresAt when a reservation ({@link LeaseState#ALLOCATED}) ends by itself: after it,
 *     recovery and the next allocation reclaim it. Provisioning sets it on the reservation it makes
 *     on its way (so one whose process died right after allocating does not hold the devices
 *     forever) and clears it once the lease is BOUND; a reservation made on purpose
 *     ({@code gpuvirt allocate}) has the lifetime it was given, or none
 * @param vgpus the vGPUs the lease holds (a VF carrying a type, or an mdev), next to or instead
 *     of whole groups; empty for a passthrough lease. A lease holds at least one group or vGPU
 * @param migs the MIG GPU instances the lease holds, each on a GPU no lease holds whole
 */
public record Lease(String owner, LeaseOrigin origin, LeaseState state,
    AllocationRequest request, List<LeasedGroup> groups, OptionalInt partitionId,
    List<String> reasons, Instant createdAt, Optional<Instant> expiresAt,
    List<VgpuAssignment> vgpus, List<MigAssignment> migs) {

  public Lease {
    AllocationRequest.checkOwner(owner);
    Objects.requireNonNull(origin, () -> "origin of lease " + owner);
    Objects.requireNonNull(state, () -> "state of lease " + owner);
    Objects.requireNonNull(request, () -> "request of lease " + owner);
    Objects.requireNonNull(partitionId, () -> "partitionId of lease " + owner);
    Objects.requireNonNull(createdAt, () -> "createdAt of lease " + owner);
    Objects.requireNonNull(expiresAt, () -> "expiresAt of lease " + owner);
    if (!request.owner().equals(owner)) {
      throw new InvalidValueException("lease of " + owner + " answers a request of "
          + request.owner());
    }
    groups = groups.stream().sorted(Comparator.comparingInt(LeasedGroup::number)).toList();
    vgpus = List.copyOf(vgpus);
    migs = List.copyOf(migs);
    if (groups.isEmpty() && vgpus.isEmpty() && migs.isEmpty()) {
      throw new InvalidValueException("lease of " + owner + " has no IOMMU groups, vGPUs or MIG"
          + " instances");
    }
    Set<String> migKeys = new HashSet<>();
    for (MigAssignment m : migs) {
      if (!migKeys.add(m.key())) {
        throw new InvalidValueException("lease of " + owner + " lists MIG instance " + m.key()
            + " twice");
      }
    }
    Set<Integer> numbers = new HashSet<>();
    Set<PciAddress> addresses = new HashSet<>();
    for (LeasedGroup g : groups) {
      if (!numbers.add(g.number())) {
        throw new InvalidValueException("lease of " + owner + " lists group " + g.number()
            + " twice");
      }
      for (LeasedDevice d : g.devices()) {
        if (!addresses.add(d.address())) {
          throw new InvalidValueException("lease of " + owner + " lists " + d.address()
              + " twice");
        }
      }
    }
    reasons = List.copyOf(reasons);
    Set<String> vgpuDevices = new HashSet<>();
    for (VgpuAssignment v : vgpus) {
      if (!vgpuDevices.add(v.sysfsPath())) {
        throw new InvalidValueException("lease of " + owner + " lists vGPU " + v.sysfsPath()
            + " twice");
      }
      if (v.vf().isPresent() && addresses.contains(v.vf().get())) {
        throw new InvalidValueException("lease of " + owner + " holds " + v.vf().get()
            + " both whole and as a vGPU");
      }
    }
  }

  /** A lease without MIG instances. */
  public Lease(String owner, LeaseOrigin origin, LeaseState state, AllocationRequest request,
      List<LeasedGroup> groups, OptionalInt partitionId, List<String> reasons, Instant createdAt,
      Optional<Instant> expiresAt, List<VgpuAssignment> vgpus) {
    this(owner, origin, state, request, groups, partitionId, reasons, createdAt, expiresAt, vgpus,
        List.of());
  }

  /** The same lease holding these MIG instances. */
  public Lease withMigs(List<MigAssignment> newMigs) {
    return new Lease(owner, origin, state, request, groups, partitionId, reasons, createdAt,
        expiresAt, vgpus, newMigs);
  }

  /** A lease without vGPUs (whole IOMMU groups only), as before vGPU leases existed. */
  public Lease(String owner, LeaseOrigin origin, LeaseState state, AllocationRequest request,
      List<LeasedGroup> groups, OptionalInt partitionId, List<String> reasons, Instant createdAt,
      Optional<Instant> expiresAt) {
    this(owner, origin, state, request, groups, partitionId, reasons, createdAt, expiresAt,
        List.of());
  }

  /** The same lease holding these vGPUs. */
  public Lease withVgpus(List<VgpuAssignment> newVgpus) {
    return new Lease(owner, origin, state, request, groups, partitionId, reasons, createdAt,
        expiresAt, newVgpus, migs);
  }

  /** The vGPU on this VF, if the lease holds one there. */
  public Optional<VgpuAssignment> vgpuOn(PciAddress vf) {
    return vgpus.stream().filter(v -> v.vf().equals(Optional.of(vf))).findFirst();
  }

  /** Every device of every group, sorted by address. */
  public List<LeasedDevice> devices() {
    return groups.stream().flatMap(g -> g.devices().stream())
        .sorted(Comparator.comparing(LeasedDevice::address)).toList();
  }

  /** The devices that count toward the request, sorted by address. */
  public List<LeasedDevice> requestedDevices() {
    return devices().stream().filter(d -> d.role() == DeviceRole.REQUESTED).toList();
  }

  /** The devices that go to the VM (everything but bridges), sorted by address. */
  public List<LeasedDevice> passedThroughDevices() {
    return devices().stream().filter(d -> d.role().passedThrough()).toList();
  }

  /** The group numbers, sorted. */
  public List<Integer> groupNumbers() {
    return groups.stream().map(LeasedGroup::number).toList();
  }

  /** The NUMA nodes of the requested devices. */
  public SortedSet<Integer> numaNodes() {
    TreeSet<Integer> nodes = new TreeSet<>();
    requestedDevices().forEach(d -> nodes.add(d.numaNode()));
    return Collections.unmodifiableSortedSet(nodes);
  }

  /** Whether the requested devices sit on more than one NUMA node (the request spilled). */
  public boolean spansNumaNodes() {
    return numaNodes().size() > 1;
  }

  /** A lease made by provisioning ({@link LeaseOrigin#PROVISION}) that does not expire. */
  public Lease(String owner, LeaseState state, AllocationRequest request,
      List<LeasedGroup> groups, OptionalInt partitionId, List<String> reasons, Instant createdAt) {
    this(owner, LeaseOrigin.PROVISION, state, request, groups, partitionId, reasons, createdAt,
        Optional.empty());
  }

  /** A lease that does not expire. */
  public Lease(String owner, LeaseOrigin origin, LeaseState state, AllocationRequest request,
      List<LeasedGroup> groups, OptionalInt partitionId, List<String> reasons, Instant createdAt) {
    this(owner, origin, state, request, groups, partitionId, reasons, createdAt, Optional.empty());
  }

  /** Whether this is a reservation whose deadline passed before {@code now}. */
  public boolean expired(Instant now) {
    return state == LeaseState.ALLOCATED && expiresAt.isPresent() && expiresAt.get().isBefore(now);
  }

  /** The same lease as a reservation that lapses at {@code deadline}. */
  public Lease withExpiresAt(Instant deadline) {
    return new Lease(owner, origin, state, request, groups, partitionId, reasons, createdAt,
        Optional.of(Objects.requireNonNull(deadline, "deadline")), vgpus, migs);
  }

  /** The same lease with no deadline: it lasts until released. */
  public Lease withoutExpiry() {
    return new Lease(owner, origin, state, request, groups, partitionId, reasons, createdAt,
        Optional.empty(), vgpus, migs);
  }

  /** The same lease in another state. */
  public Lease withState(LeaseState newState) {
    return new Lease(owner, origin, newState, request, groups, partitionId, reasons, createdAt,
        expiresAt, vgpus, migs);
  }

  /** The same lease with another origin. */
  public Lease withOrigin(LeaseOrigin newOrigin) {
    return new Lease(owner, newOrigin, state, request, groups, partitionId, reasons, createdAt,
        expiresAt, vgpus, migs);
  }

  /** The same lease with each device replaced by {@code change} applied to it. */
  public Lease withDevices(java.util.function.UnaryOperator<LeasedDevice> change) {
    List<LeasedGroup> changed = groups.stream().map(g -> new LeasedGroup(g.number(),
        g.devices().stream().map(change).toList())).toList();
    return new Lease(owner, origin, state, request, changed, partitionId, reasons, createdAt,
        expiresAt, vgpus, migs);
  }

  /** The lease's device at {@code address}, if it holds it. */
  public java.util.Optional<LeasedDevice> device(PciAddress address) {
    return devices().stream().filter(d -> d.address().equals(address)).findFirst();
  }
}
