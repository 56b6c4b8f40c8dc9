package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.core.vgpu.VgpuCapability;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.testkit.FakeSriovManage;
import io.gpuvirt.testkit.ForwardingSysfs;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * vGPU provisioning and teardown on the HGX B200 in Fabric Manager vGPU mode, interrupted before
 * each step that changes the host: every sysfs write and every partition activation and
 * deactivation (an {@link Error} that unwinds the call the way a crash would). After {@code
 * recover()}: every VF with a type and every active partition belong to a BOUND lease, and every
 * BOUND lease's VFs and partition are in place; after a last teardown the host is as before.
 */
final class VgpuFabricCrashTest {
  private static final String OWNER = "vm-crash";

  @TempDir Path state;

  /** Counts the steps that change the host and crashes before step {@code crashAt}. */
  private static final class Steps {
    private final int crashAt;
    private int taken;

    Steps(int crashAt) {
      this.crashAt = crashAt;
    }

    void before(String step) {
      if (++taken == crashAt) {
        throw new InterruptingSysfs.Crash("simulated crash before step " + crashAt + ": " + step);
      }
    }
  }

  /** A Fabric Manager client whose activations and deactivations are steps. */
  private record SteppedFabric(FabricManager delegate, Steps steps) implements FabricManager {
    @Override
    public List<FabricPartition> listPartitions() {
      return delegate.listPartitions();
    }

    @Override
    public void activate(int partitionId) {
      steps.before("activate " + partitionId);
      delegate.activate(partitionId);
    }

    @Override
    public void activateWithVirtualFunctions(int partitionId, List<PciAddress> vfs) {
      steps.before("activate " + partitionId + " with " + vfs);
      delegate.activateWithVirtualFunctions(partitionId, vfs);
    }

    @Override
    public void deactivate(int partitionId) {
      steps.before("deactivate " + partitionId);
      delegate.deactivate(partitionId);
    }

    @Override
    public void setActivatedPartitions(Collection<Integer> partitionIds) {
      delegate.setActivatedPartitions(partitionIds);
    }

    @Override
    public List<Integer> unsupportedPartitionIds() {
      return delegate.unsupportedPartitionIds();
    }

    @Override
    public void close() {}
  }

  private static final class SteppedSysfs extends ForwardingSysfs {
    private final Steps steps;

    SteppedSysfs(Sysfs host, Steps steps) {
      super(host);
      this.steps = steps;
    }

    @Override
    public void write(String path, String value) {
      steps.before("write " + value + " to " + path);
      super.write(path, value);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void crashBeforeEveryStep_isRecovered(int count) {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200Vgpu())) {
      VgpuDevices plain = devices(host.sysfs());
      plain.capabilities().forEach(c -> plain.enable(c.pf()));
      SimulatedFabric fabric = SimulatedFabric.ofHost(host).orElseThrow();
      LeaseLedger ledger = LeaseLedger.open(state);
      VgpuProvisioner clean = VgpuProvisioner.on(plain, ledger)
          .withFabric(new PartitionContext(fabric.connect(), fabric.moduleIdMap()));
      // another VM on the first GPU: its shared partition must survive every crash
      clean.provision(VgpuRequest.ofType("vm-other", "B200X-45C"));
      VgpuRequest request = VgpuRequest.ofType(OWNER, "B200X-45C").withCount(count);
      String before = snapshot(plain, fabric);
      int provisionCrashes = 0;
      for (int n = 1; ; n++) {
        if (!crashed(host, fabric, ledger, n, p -> p.provision(request))) {
          clean.teardown(OWNER);
          break;
        }
        provisionCrashes++;
        assertRecovered(clean, plain, fabric, ledger, count + " vGPUs, provision crashed " + n);
        clean.teardown(OWNER);
        assertEquals(before, snapshot(plain, fabric), count + " vGPUs, after crash " + n);
      }
      int teardownCrashes = 0;
      for (int n = 1; ; n++) {
        clean.provision(request);
        if (!crashed(host, fabric, ledger, n, p -> p.teardown(OWNER))) {
          break;
        }
        teardownCrashes++;
        assertRecovered(clean, plain, fabric, ledger, count + " vGPUs, teardown crashed " + n);
        clean.teardown(OWNER);
      }
      assertTrue(provisionCrashes > count && teardownCrashes >= count,
          provisionCrashes + " provision and " + teardownCrashes + " teardown crash points");
      assertEquals(before, snapshot(plain, fabric), count + " vGPUs: at the end");
    }
  }

  private static VgpuDevices devices(Sysfs sysfs) {
    return VgpuDevices.on(sysfs, new FakeSriovManage(sysfs)).withRetry(1, Duration.ZERO);
  }

  private static boolean crashed(SimulatedHost host, SimulatedFabric fabric, LeaseLedger ledger,
      int n, Consumer<VgpuProvisioner> call) {
    Steps steps = new Steps(n);
    VgpuProvisioner p = VgpuProvisioner.on(devices(new SteppedSysfs(host.sysfs(), steps)),
        ledger).withFabric(new PartitionContext(new SteppedFabric(fabric.connect(), steps),
            fabric.moduleIdMap()));
    try {
      call.accept(p);
      return false;
    } catch (InterruptingSysfs.Crash expected) {
      return true;
    }
  }

  private static void assertRecovered(VgpuProvisioner clean, VgpuDevices devices,
      SimulatedFabric fabric, LeaseLedger ledger, String what) {
    clean.recover();
    Map<String, Integer> onHost = new TreeMap<>();
    for (VgpuCapability gpu : devices.capabilities()) {
      for (PciAddress vf : gpu.virtualFunctions()) {
        int current = devices.currentType(vf);
        if (current != 0) {
          onHost.put(vf.toString(), current);
        }
      }
    }
    Map<String, Integer> leased = new TreeMap<>();
    TreeSet<Integer> leasedPartitions = new TreeSet<>();
    for (Lease lease : ledger.leases()) {
      assertEquals(LeaseState.BOUND, lease.state(), what + ": " + lease);
      lease.partitionId().ifPresent(leasedPartitions::add);
      for (VgpuAssignment v : lease.vgpus()) {
        leased.put(v.vf().orElseThrow().toString(), v.type().id());
      }
    }
    assertEquals(List.of(leased, List.copyOf(leasedPartitions)),
        List.of(onHost, fabric.activePartitionIds()), what);
  }

  /** Every VF's type and the active partitions with their VFs. */
  private static String snapshot(VgpuDevices devices, SimulatedFabric fabric) {
    StringBuilder b = new StringBuilder();
    for (VgpuCapability gpu : devices.capabilities()) {
      for (PciAddress vf : gpu.virtualFunctions()) {
        b.append(vf).append(' ').append(devices.currentType(vf)).append('\n');
      }
    }
    for (int id : fabric.activePartitionIds()) {
      b.append("partition ").append(id).append(' ').append(fabric.activeVirtualFunctions(id))
          .append('\n');
    }
    return b.toString();
  }
}
