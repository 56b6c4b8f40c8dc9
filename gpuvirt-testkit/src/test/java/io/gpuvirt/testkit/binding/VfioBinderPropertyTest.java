package io.gpuvirt.testkit.binding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.pci.UnknownDeviceException;
import io.gpuvirt.core.vfio.BindException;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.BindResult;
import io.gpuvirt.core.vfio.DeviceBinding;
import io.gpuvirt.core.vfio.GroupRefusedException;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.testkit.Fault;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.RandomHosts;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random hosts x random bind/restore sequences x random faults (one per step, firing once). After
 * every step: a device gpuvirt holds is fully on vfio-pci with {@code driver_override} cleared,
 * every other device has exactly its boot driver and override (nothing gpuvirt did not bind was
 * unbound, no device is half-bound), and no group gpuvirt holds has a member on another driver. A
 * failed step leaves the model unchanged, so these checks also show that it left every driver and
 * override exactly as before it. At the end, restoring everything gives the boot host back, every
 * attribute of every device included. Every message names the seed and the steps taken.
 */
final class VfioBinderPropertyTest {
  private static final int STEPS = 10;
  private static final String VFIO = BindRequest.VFIO_PCI;
  private static final String PROBE = "/sys/bus/pci/drivers_probe";

  static LongStream seeds() {
    return LongStream.range(0, 40);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void randomBindRestoreSequences_keepTheInvariantsAfterEveryStep(long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    HostProfile profile = RandomHosts.profile(random.split());
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      new Scenario(seed, random, host).run();
    }
  }

  /** One seeded sequence on one host, with the model of what gpuvirt holds. */
  private static final class Scenario {
    private final long seed;
    private final SplittableRandom rnd;
    private final SimulatedHost host;
    private final FailingSysfs sysfs;
    private final VfioBinder binder;
    private final HostSnapshot boot;
    private final Topology bootTopology;
    private final List<PciAddress> endpoints;
    private final TreeMap<PciAddress, DeviceBinding> held = new TreeMap<>();
    private final List<String> history = new ArrayList<>();

    Scenario(long seed, SplittableRandom rnd, SimulatedHost host) {
      this.seed = seed;
      this.rnd = rnd;
      this.host = host;
      this.sysfs = new FailingSysfs(host.sysfs());
      this.binder = VfioBinder.on(sysfs);
      this.boot = HostSnapshot.of(host);
      this.bootTopology = TopologyScanner.scan(io.gpuvirt.core.host.Sysfs.at(host.root()));
      this.endpoints = bootTopology.devices().stream().filter(d -> !d.isBridge())
          .map(PciDevice::address).toList();
    }

    void run() {
      if (endpoints.isEmpty()) {
        return;
      }
      for (int step = 0; step < STEPS; step++) {
        step(step);
      }
      for (int group : heldGroups()) {
        binder.restore(bindingsOf(group));
      }
      HostSnapshot.assertSame(boot, host, context("after restoring everything"));
    }

    private String context(String what) {
      return "seed " + seed + " (" + host.profile().name() + "), " + what + "; history: "
          + history;
    }

    private void step(int step) {
      boolean restore = !held.isEmpty() && rnd.nextInt(3) == 0;
      List<PciAddress> targets = restore ? restoreTargets() : bindTargets();
      String fault = rnd.nextBoolean() ? inject(targets) : "no fault";
      String what;
      GpuvirtException failure = null; // the model is unchanged, so the host must be too
      try {
        what = restore ? restore(targets) : bind(targets);
      } catch (GroupRefusedException | UnknownDeviceException | BindException e) {
        failure = e;
        what = (restore ? "restore " : "bind ") + targets + " refused or failed: "
            + e.getClass().getSimpleName();
      } finally {
        host.clearFaults();
        sysfs.clear();
      }
      history.add(step + ": " + what + " (" + fault + ")"
          + (failure == null ? "" : ": " + failure.getMessage()));
      checkInvariants(step);
    }

    private List<PciAddress> bindTargets() {
      List<PciAddress> out = new ArrayList<>();
      int n = 1 + rnd.nextInt(3);
      for (int i = 0; i < n; i++) {
        out.add(endpoints.get(rnd.nextInt(endpoints.size())));
      }
      return out;
    }

    /** All bindings of one held group, or now and then a part of them (which must be refused). */
    private List<PciAddress> restoreTargets() {
      List<Integer> groups = heldGroups();
      int group = groups.get(rnd.nextInt(groups.size()));
      List<PciAddress> out = new ArrayList<>(bindingsOf(group).stream()
          .map(DeviceBinding::address).toList());
      if (out.size() > 1 && rnd.nextInt(6) == 0) {
        out.remove(rnd.nextInt(out.size()));
      }
      return out;
    }

    private String bind(List<PciAddress> targets) {
      BindRequest.Builder request = BindRequest.builder().devices(targets)
          .resetBeforeBind(rnd.nextBoolean());
      boolean allowAll = rnd.nextInt(3) == 0;
      if (allowAll) {
        request.allowForeignDevices(endpoints);
      }
      BindResult result = binder.bind(request.build());
      for (DeviceBinding b : result.devices()) {
        if (b.boundByGpuvirt() || !held.containsKey(b.address())) {
          held.put(b.address(), b);
        }
      }
      return "bind " + targets + (allowAll ? " allowing all" : "") + " -> "
          + result.devices().size() + " devices";
    }

    private String restore(List<PciAddress> targets) {
      binder.restore(targets.stream().map(held::get).toList());
      targets.forEach(held::remove);
      return "restore " + targets;
    }

    /** Injects one fault that fires once, at a device of the targets' groups (mostly). */
    private String inject(List<PciAddress> targets) {
      List<PciAddress> near = new ArrayList<>();
      for (PciAddress t : targets) {
        bootTopology.groupOf(t).ifPresent(g -> bootTopology.members(g).stream()
            .filter(d -> !d.isBridge()).forEach(d -> near.add(d.address())));
      }
      List<PciAddress> pool = near.isEmpty() || rnd.nextInt(5) == 0 ? endpoints : near;
      PciAddress d = pool.get(rnd.nextInt(pool.size()));
      String override = d.sysfsPath("driver_override");
      switch (rnd.nextInt(8)) {
        case 0:
          host.inject(Fault.unbindBusy(d));
          return "unbind of " + d + " busy";
        case 1:
          host.inject(Fault.probeFails(d));
          return "probe of " + d + " fails";
        case 2:
          host.inject(Fault.resetFails(d));
          return "reset of " + d + " fails";
        case 3:
          host.inject(Fault.writeFails(override));
          return "first override write of " + d + " fails";
        case 4:
          sysfs.failWrite(PROBE, d.toString());
          return "drivers_probe write of " + d + " fails";
        case 5:
          sysfs.failWrite(override, "\n");
          return "override clear of " + d + " fails";
        case 6:
          host.inject(Fault.writeFails(PROBE));
          return "first drivers_probe write fails";
        default:
          Optional<String> original = boot.device(d).driver();
          if (original.isEmpty()) {
            return "no fault";
          }
          sysfs.failWrite(override, original.get());
          return "override write of " + original.get() + " to " + d + " fails";
      }
    }

    private List<Integer> heldGroups() {
      return new ArrayList<>(new TreeSet<>(held.values().stream()
          .map(DeviceBinding::iommuGroup).toList()));
    }

    private List<DeviceBinding> bindingsOf(int group) {
      return held.values().stream().filter(b -> b.iommuGroup() == group).toList();
    }

    private void checkInvariants(int step) {
      HostSnapshot now = HostSnapshot.of(host);
      String where = "after step " + step;
      assertEquals(boot.devices().stream().map(PciDevice::address).toList(),
          now.devices().stream().map(PciDevice::address).toList(),
          context(where + ": devices appeared or vanished"));
      for (PciDevice d : now.devices()) {
        DeviceBinding h = held.get(d.address());
        PciDevice atBoot = boot.device(d.address());
        if (h != null && h.boundByGpuvirt()) {
          if (!d.driver().equals(Optional.of(h.driver())) || d.driverOverride().isPresent()) {
            fail(context(where + ": " + d.address() + " is held by gpuvirt but half-bound: driver "
                + d.driver() + ", override " + d.driverOverride()));
          }
        } else if (!d.driver().equals(atBoot.driver())
            || !d.driverOverride().equals(atBoot.driverOverride())) {
          fail(context(where + ": " + d.address() + " is not held by gpuvirt but changed from "
              + atBoot.driver() + "/" + atBoot.driverOverride() + " to " + d.driver() + "/"
              + d.driverOverride()));
        }
      }
      for (int group : heldGroups()) {
        IommuGroup g = bootTopology.iommuGroup(group).orElseThrow();
        for (PciDevice member : bootTopology.members(g)) {
          Optional<String> driver = now.driver(member.address());
          if (!member.isBridge() && !driver.equals(Optional.of(VFIO))) {
            fail(context(where + ": group " + group + " is split: " + member.address()
                + " is on " + driver.orElse("no driver") + " while gpuvirt holds the group"));
          }
        }
      }
    }
  }

  /** The property test only means something if most hosts can bind; a guard against drift. */
  @Test
  void seeds_bindSomeGroupsOnMostHosts() {
    int hostsWithBinds = 0;
    for (long seed : seeds().toArray()) {
      HostProfile p = RandomHosts.profile(new SplittableRandom(seed).split());
      if (p.iommuEnabled() && p.drivers().contains(VFIO)) {
        hostsWithBinds++;
      }
    }
    assertTrue(hostsWithBinds >= 20, "only " + hostsWithBinds + " of 40 seeds give a host"
        + " with the IOMMU on and vfio-pci loaded; widen the seeds");
  }
}
