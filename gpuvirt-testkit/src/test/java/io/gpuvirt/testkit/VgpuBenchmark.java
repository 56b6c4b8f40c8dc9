package io.gpuvirt.testkit;

import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Benchmark (not a test): activating and deactivating 16 vGPUs (L40S-3B, a full card) on one
 * simulated L40S, as bare sysfs steps ({@link VgpuDevices}) and as durable leases
 * ({@link VgpuProvisioner}: lease journal, checks, type, commit), 4 mediated devices on a
 * simulated T4, and 8 vGPUs (B200X-22C, a full card) as leases on one B200 of the HGX in Fabric
 * Manager vGPU mode (its one-GPU partition activated with the first VF and deactivated with the
 * last, through the simulated Fabric Manager). Run with the test classpath: {@code java -cp ... io.gpuvirt.testkit.VgpuBenchmark
 * [rounds]}; {@code -Dgpuvirt.testkit.dir=/dev/shm} measures a RAM file system.
 */
final class VgpuBenchmark {
  private static final PciAddress PF = PciAddress.parse("0000:3d:00.0");

  private VgpuBenchmark() {}

  public static void main(String[] args) throws IOException {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    VgpuType b3 = VgpuTypeCatalogue.l40s().require("L40S-3B");
    long[] bare = new long[rounds];
    long[] leased = new long[rounds];
    long[] mdev = new long[rounds];
    try (SimulatedHost host = SimulatedHost.l40sVgpu()) {
      VgpuDevices devices = VgpuDevices.on(host.sysfs(), new FakeSriovManage(host.sysfs()));
      List<PciAddress> vfs = devices.enable(PF);
      Path state = Files.createTempDirectory("gpuvirt-vgpu-bench");
      VgpuProvisioner provisioner = VgpuProvisioner.on(devices, LeaseLedger.open(state));
      for (int r = 0; r < rounds; r++) {
        long t0 = System.nanoTime();
        for (int i = 0; i < 16; i++) {
          devices.activate(vfs.get(i), b3);
        }
        for (int i = 0; i < 16; i++) {
          devices.deactivate(vfs.get(i));
        }
        long t1 = System.nanoTime();
        for (int i = 0; i < 16; i++) {
          provisioner.provision(VgpuRequest.ofType("vm-" + i, "L40S-3B").onNumaNode(0));
        }
        for (int i = 0; i < 16; i++) {
          provisioner.teardown("vm-" + i);
        }
        leased[r] = System.nanoTime() - t1;
        bare[r] = t1 - t0;
      }
    }
    try (SimulatedHost host = SimulatedHost.t4Mdev()) {
      VgpuDevices devices = VgpuDevices.on(host.sysfs(), new FakeSriovManage(host.sysfs()));
      VgpuType q4 = VgpuTypeCatalogue.t4().require("T4-4Q");
      PciAddress t4 = PciAddress.parse("0000:3b:00.0");
      for (int r = 0; r < rounds; r++) {
        long t0 = System.nanoTime();
        for (int i = 0; i < 4; i++) {
          devices.createMdev(t4, q4, VgpuProvisioner.mdevUuid("vm-" + i));
        }
        for (int i = 0; i < 4; i++) {
          devices.removeMdev(VgpuProvisioner.mdevUuid("vm-" + i));
        }
        mdev[r] = System.nanoTime() - t0;
      }
    }
    long[] fabricMode = new long[rounds];
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200Vgpu())) {
      VgpuDevices devices = VgpuDevices.on(host.sysfs(), new FakeSriovManage(host.sysfs()));
      devices.enable(PciAddress.parse("0000:17:00.0"));
      io.gpuvirt.testkit.fabric.SimulatedFabric fabric =
          io.gpuvirt.testkit.fabric.SimulatedFabric.ofHost(host).orElseThrow();
      Path state = Files.createTempDirectory("gpuvirt-vgpu-bench");
      VgpuProvisioner provisioner = VgpuProvisioner.on(devices, LeaseLedger.open(state))
          .withFabric(new io.gpuvirt.core.alloc.PartitionContext(fabric.connect(),
              fabric.moduleIdMap()));
      for (int r = 0; r < rounds; r++) {
        long t0 = System.nanoTime();
        for (int i = 0; i < 8; i++) {
          provisioner.provision(VgpuRequest.ofType("vm-" + i, "B200X-22C"));
        }
        for (int i = 0; i < 8; i++) {
          provisioner.teardown("vm-" + i);
        }
        fabricMode[r] = System.nanoTime() - t0;
      }
    }
    System.out.printf("8 vGPUs as leases on one B200 in FABRIC_MODE=2 (partition activation and"
        + " deactivation included): median %.1f ms (%.1f ms per vGPU lease cycle)%n",
        median(fabricMode) / 1e6, median(fabricMode) / 8e6);
    System.out.printf("16 vGPUs activated + deactivated on one L40S: bare sysfs median %.1f ms,"
        + " as leases median %.1f ms (%.1f ms per vGPU lease cycle)%n", median(bare) / 1e6,
        median(leased) / 1e6, median(leased) / 16e6);
    System.out.printf("4 mediated devices created + removed on one T4: median %.1f ms%n",
        median(mdev) / 1e6);
  }

  private static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
