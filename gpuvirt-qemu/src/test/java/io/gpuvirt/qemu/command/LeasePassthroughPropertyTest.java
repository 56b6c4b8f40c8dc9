package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded random leases (GPUs and NICs with companions, allowed foreign multi-function devices,
 * virtual functions, bridges in groups, with and without a partition) and the invariants every
 * conversion keeps. A failure names the seed; rerun that seed to replay it.
 */
final class LeasePassthroughPropertyTest {

  static IntStream seeds() {
    return IntStream.range(0, 200);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void of_randomLease_keepsEveryInvariant(int seed) {
    Lease lease = randomLease(new Random(seed));
    PassthroughDevices vm = LeasePassthrough.of(lease);
    String where = "seed " + seed + ", lease " + lease.devices();

    List<PciAddress> passed = new ArrayList<>();
    vm.units().forEach(u -> u.functions().forEach(d -> passed.add(d.address())));
    assertEquals(lease.passedThroughDevices().stream().map(LeasedDevice::address).sorted().toList(),
        passed.stream().sorted().toList(), "every non-bridge device exactly once; " + where);

    for (PassthroughUnit u : vm.units()) {
      for (PciDevice f : u.functions()) {
        assertTrue(sameSlot(u.primary().address(), f.address()),
            "unit " + u.primary().address() + " holds " + f.address() + "; " + where);
      }
    }

    Set<PciAddress> primaries = new HashSet<>();
    vm.units().forEach(u -> primaries.add(u.primary().address()));
    for (LeasedDevice d : lease.requestedDevices()) {
      assertTrue(primaries.contains(d.address()),
          "requested " + d.address() + " is not a primary; " + where);
    }

    List<PciAddress> order = vm.units().stream().map(u -> u.primary().address()).toList();
    assertEquals(order.stream().sorted().toList(), order, "units in address order; " + where);

    boolean gpus = vm.units().stream().anyMatch(u -> u.role() == PassthroughUnit.Role.GPU);
    assertEquals(lease.partitionId().isPresent() && gpus, vm.gpudirectClique().isPresent(),
        "clique iff partition and GPUs; " + where);
  }

  private static boolean sameSlot(PciAddress a, PciAddress b) {
    return a.domain() == b.domain() && a.bus() == b.bus() && a.device() == b.device();
  }

  private static Lease randomLease(Random rng) {
    List<LeasedGroup> groups = new ArrayList<>();
    int slots = 1 + rng.nextInt(6);
    for (int s = 0; s < slots; s++) {
      int bus = 0x10 + 0x10 * s;
      List<LeasedDevice> members = new ArrayList<>();
      switch (rng.nextInt(3)) {
        case 0 -> { // a requested device with 0-3 companion functions
          boolean gpu = rng.nextBoolean();
          members.add(device(bus, 0, DeviceRole.REQUESTED, gpu ? 0x030200 : 0x020000,
              Optional.empty()));
          int companions = rng.nextInt(4);
          for (int f = 1; f <= companions; f++) {
            members.add(device(bus, f, DeviceRole.COMPANION, 0x040300, Optional.empty()));
          }
        }
        case 1 -> { // an allowed foreign multi-function device next to a requested GPU
          members.add(device(bus, 0, DeviceRole.REQUESTED, 0x030200, Optional.empty()));
          int functions = 1 + rng.nextInt(3);
          for (int f = 0; f < functions; f++) {
            members.add(device(bus + 1, f, DeviceRole.ALLOWED_FOREIGN, 0x020000,
                Optional.empty()));
          }
        }
        default -> { // virtual functions of one PF, each requested
          PciAddress pf = new PciAddress(0, bus, 0, 0);
          int vfs = 1 + rng.nextInt(3);
          for (int f = 1; f <= vfs; f++) {
            members.add(device(bus, f, DeviceRole.REQUESTED, 0x030200, Optional.of(pf)));
          }
        }
      }
      if (rng.nextBoolean()) {
        members.add(new LeasedDevice(new PciAddress(0, bus - 1, 0, 0), DeviceRole.BRIDGE,
            new PciId(0x1000, 0xc030), new PciId(0, 0), new PciClass(0x060400), 0,
            Optional.of("pcieport"), List.of(), Optional.empty(), OptionalInt.empty()));
      }
      groups.add(new LeasedGroup(s, members));
    }
    OptionalInt partition = rng.nextBoolean() ? OptionalInt.of(rng.nextInt(35))
        : OptionalInt.empty();
    return LeasePassthroughTest.lease(partition, groups);
  }

  private static LeasedDevice device(int bus, int function, DeviceRole role, int pciClass,
      Optional<PciAddress> pf) {
    return new LeasedDevice(new PciAddress(0, bus, 0, function), role, new PciId(0x10de, 0x2330),
        new PciId(0, 0), new PciClass(pciClass), 0, Optional.empty(), List.of(), pf,
        OptionalInt.empty());
  }
}
