package io.gpuvirt.qemu.command;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * The devices of a lease as the command builder takes them: from a
 * {@link io.gpuvirt.core.alloc.Lease} (what gpuvirt-core's allocator and provisioner hand out) to
 * {@link PassthroughDevices}.
 *
 * <pre>{@code
 * Provisioned vm = provisioner.provision(AllocationRequest.builder("vm-42").count(4).build());
 * QemuArgs args = QemuCommandBuilder.forQemu(caps)
 *     .memoryMiB(512 * 1024)
 *     .devices(LeasePassthrough.of(vm.lease()))
 *     .build();
 * }</pre>
 *
 * <p>The rules, in order:
 * <ol>
 *   <li>Bridges ({@link DeviceRole#BRIDGE}: root and switch ports that share an IOMMU group with
 *       the devices) stay on the host and are left out.</li>
 *   <li>Every requested device ({@link DeviceRole#REQUESTED}) is the primary function of a unit of
 *       its own, and so gets its own PCIe root port in the guest.</li>
 *   <li>A companion ({@link DeviceRole#COMPANION}: another function of a requested device's slot,
 *       such as a GPU's HDMI audio function) joins the unit of the requested device in its slot
 *       (the one with the lowest function number if the slot holds several), in host function
 *       order, so that the guest sees the functions of one device together, as on the host.</li>
 *   <li>Devices the request allowed explicitly ({@link DeviceRole#ALLOWED_FOREIGN}) are grouped by
 *       slot: the lowest function of each slot is the primary, the others its companions.</li>
 *   <li>A unit's role follows its primary: {@link PassthroughUnit.Role#GPU} for class 0x0300 or
 *       0x0302, {@link PassthroughUnit.Role#FABRIC} for an NVSwitch, {@link PassthroughUnit.Role#OTHER}
 *       otherwise.</li>
 *   <li>Units are in host PCI address order of their primaries: root port {@code rp0} holds the
 *       device with the lowest address.</li>
 *   <li>A lease that holds a Fabric Manager partition gives its GPUs one GPUDirect clique, so the
 *       guest driver knows they can reach each other. The id is the partition id modulo 16
 *       (QEMU accepts 0 to 15; the partition ids of HGX B200 and H100 boards, 1-15 and 0-14, are
 *       used as they are). Only GPUs sharing an id matters, and a VM holds one partition, so any id
 *       would do; the partition id makes the command easy to match with {@code fmpm -l}. A lease
 *       without a partition (or without GPUs) gets no clique.</li>
 * </ol>
 *
 * <p>A lease records what the command needs of each device (address, ids, class, NUMA node, BARs,
 * physical function, IOMMU group), not where it sits in the host tree: the devices handed to the
 * builder have no parent, their root bus is their own bus, and their driver is left empty (the lease
 * records the driver to restore, not the one bound now). The builder does not use those fields.
 *
 * <p>The conversion works for a lease in any state, to preview a command; QEMU can open the devices
 * only once the lease is {@link io.gpuvirt.core.alloc.LeaseState#BOUND BOUND}.
 */
public final class LeasePassthrough {
  /** QEMU's {@code x-nv-gpudirect-clique} takes 0 to 15. */
  private static final int CLIQUES = 16;

  private LeasePassthrough() {}

  /**
   * The devices of {@code lease}, in units, with the partition's GPUDirect clique.
   *
   * @throws InvalidValueException when the lease cannot be passed through as it stands: it holds
   *     only bridges, a companion whose slot holds no requested device, or a slot with more than 8
   *     functions (each message names the device)
   */
  public static PassthroughDevices of(Lease lease) {
    Objects.requireNonNull(lease, "lease");
    Map<PciAddress, Integer> groups = new TreeMap<>();
    for (LeasedGroup g : lease.groups()) {
      g.devices().forEach(d -> groups.put(d.address(), g.number()));
    }
    // Key address -> the functions of its unit; a TreeMap keeps the units in address order.
    Map<PciAddress, List<LeasedDevice>> units = new TreeMap<>();
    List<LeasedDevice> passed = lease.passedThroughDevices();
    for (LeasedDevice d : passed) {
      if (d.role() == DeviceRole.REQUESTED) {
        units.put(d.address(), new ArrayList<>(List.of(d)));
      }
    }
    for (LeasedDevice d : passed) {
      if (d.role() == DeviceRole.COMPANION) {
        PciAddress primary = units.keySet().stream().filter(a -> sameSlot(a, d.address()))
            .findFirst().orElseThrow(() -> new InvalidValueException("lease of "
                + lease.owner() + ": companion " + d.address() + " has no requested device in"
                + " its slot " + slot(d.address()) + "; a companion goes to the VM as a further"
                + " function of the requested device it belongs to"));
        units.get(primary).add(d);
      }
    }
    Map<String, List<LeasedDevice>> foreignSlots = new LinkedHashMap<>();
    for (LeasedDevice d : passed) {
      if (d.role() == DeviceRole.ALLOWED_FOREIGN) {
        foreignSlots.computeIfAbsent(slot(d.address()), k -> new ArrayList<>()).add(d);
      }
    }
    for (List<LeasedDevice> slot : foreignSlots.values()) {
      units.put(slot.get(0).address(), slot);
    }
    if (units.isEmpty()) {
      throw new InvalidValueException("lease of " + lease.owner() + " holds no device to pass"
          + " through (only bridges, which stay on the host)");
    }
    List<PassthroughUnit> vm = new ArrayList<>();
    for (List<LeasedDevice> functions : units.values()) {
      functions.sort(Comparator.comparing(LeasedDevice::address));
      vm.add(unit(lease, functions, groups));
    }
    boolean hasGpu = vm.stream().anyMatch(u -> u.role() == PassthroughUnit.Role.GPU);
    OptionalInt clique = lease.partitionId().isPresent() && hasGpu
        ? OptionalInt.of(lease.partitionId().getAsInt() % CLIQUES) : OptionalInt.empty();
    return new PassthroughDevices(vm, clique);
  }

  private static PassthroughUnit unit(Lease lease, List<LeasedDevice> functions,
      Map<PciAddress, Integer> groups) {
    // A requested device is the primary even when a companion has a lower function number.
    LeasedDevice first = functions.stream().filter(d -> d.role() == DeviceRole.REQUESTED)
        .findFirst().orElse(functions.get(0));
    PciDevice primary = device(first, groups.get(first.address()));
    List<PciDevice> companions = functions.stream().filter(d -> d != first)
        .map(d -> device(d, groups.get(d.address()))).toList();
    if (companions.size() > 7) {
      throw new InvalidValueException("lease of " + lease.owner() + ": slot "
          + slot(first.address()) + " has " + (companions.size() + 1) + " functions to pass"
          + " through, but a guest device has at most 8");
    }
    PassthroughUnit.Role role = primary.isGpu() ? PassthroughUnit.Role.GPU
        : primary.isNvSwitch() ? PassthroughUnit.Role.FABRIC : PassthroughUnit.Role.OTHER;
    return new PassthroughUnit(role, primary, companions);
  }

  /** A leased device as the builder sees it (see the class comment for what a lease lacks). */
  static PciDevice device(LeasedDevice d, int iommuGroup) {
    PciDevice.Builder b = PciDevice.builder(d.address()).id(d.id()).subsystem(d.subsystem())
        .pciClass(d.pciClass()).numaNode(d.numaNode()).bars(d.bars()).iommuGroup(iommuGroup);
    d.physicalFunction().ifPresent(b::physicalFunction);
    return b.build();
  }

  private static boolean sameSlot(PciAddress a, PciAddress b) {
    return a.domain() == b.domain() && a.bus() == b.bus() && a.device() == b.device();
  }

  private static String slot(PciAddress a) {
    String s = a.toString();
    return s.substring(0, s.lastIndexOf('.'));
  }
}
