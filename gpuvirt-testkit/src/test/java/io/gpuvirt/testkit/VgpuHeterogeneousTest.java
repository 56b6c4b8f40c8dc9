package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuException;
import io.gpuvirt.core.vgpu.VgpuMode;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Heterogeneous (mixed-size) vGPU mode on the L40S host: {@code nvidia-smi vgpu -shm 1} before the
 * first type, the mode reset by enabling VFs, mixes that fit the framebuffer, and homogeneous GPUs
 * beside them.
 */
final class VgpuHeterogeneousTest {
  private static final PciAddress PF0 = PciAddress.parse("0000:3d:00.0");
  private static final PciAddress PF1 = PciAddress.parse("0000:bd:00.0");
  private static final VgpuTypeCatalogue L40S = VgpuTypeCatalogue.l40s();
  private static final VgpuType B3 = L40S.require("L40S-3B");
  private static final VgpuType Q1 = L40S.require("L40S-1Q");

  @TempDir Path state;
  private SimulatedHost host;
  private Sysfs sysfs;
  private List<Command> commands;
  private VgpuDevices devices;
  private VgpuProvisioner vgpu;
  private LeaseLedger ledger;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.l40sVgpu();
    sysfs = host.sysfs();
    commands = new ArrayList<>();
    FakeSriovManage sriov = new FakeSriovManage(sysfs);
    FakeNvidiaSmiVgpu smi = new FakeNvidiaSmiVgpu(host);
    CommandRunner runner = c -> {
      commands.add(c);
      return c.program().endsWith("nvidia-smi") ? smi.run(c) : sriov.run(c);
    };
    devices = VgpuDevices.on(sysfs, runner).withRetry(2, Duration.ZERO);
    devices.enable(PF0);
    devices.enable(PF1);
    ledger = LeaseLedger.open(state);
    vgpu = VgpuProvisioner.on(devices, ledger);
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  private int typedVfs() {
    return VgpuProvisionerTest.typedVfs(devices, PF0, PF1);
  }

  @Test
  void mode_isHomogeneousUntilSetAndThenHeterogeneous() {
    VgpuMode before = devices.mode(PF0);
    devices.setHeterogeneous(PF0);
    assertEquals(List.of(VgpuMode.HOMOGENEOUS, VgpuMode.HETEROGENEOUS, VgpuMode.HOMOGENEOUS),
        List.of(before, devices.mode(PF0), devices.mode(PF1)));
    assertTrue(commands.stream().anyMatch(c -> c.argv().equals(
        List.of("nvidia-smi", "vgpu", "-shm", "1", "-i", PF0.toString()))), commands.toString());
  }

  @Test
  void setHeterogeneous_twiceRunsTheModeChangeOnce() {
    devices.setHeterogeneous(PF0);
    devices.setHeterogeneous(PF0);
    assertEquals(1, commands.stream().filter(c -> c.argv().contains("-shm")).count());
  }

  @Test
  void heterogeneousGpu_takesTypesOfDifferentSizesUntilItsFramebufferIsUsed() {
    devices.setHeterogeneous(PF0);
    List<PciAddress> vfs = devices.virtualFunctions(PF0);
    devices.activate(vfs.get(0), B3);
    devices.activate(vfs.get(1), Q1);
    long used = B3.framebufferMib() + Q1.framebufferMib();
    int i = 2;
    while (used + B3.framebufferMib() <= L40S.cardFramebufferMib()) {
      devices.activate(vfs.get(i++), B3);
      used += B3.framebufferMib();
    }
    assertThrows(io.gpuvirt.core.vgpu.VgpuFullException.class,
        () -> devices.activate(vfs.get(20), B3));
    assertEquals(List.of(B3.id(), Q1.id()), List.of(devices.currentType(vfs.get(0)),
        devices.currentType(vfs.get(1))));
  }

  @Test
  void homogeneousGpu_refusesASecondTypeNamingTheTypePlaced() {
    vgpu.provision(VgpuRequest.ofType("vm-1", "L40S-3B").onNumaNode(0));
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-2", "L40S-1Q").onNumaNode(0)));
    assertTrue(e.getMessage().contains(PF0 + ": holds [NVIDIA L40S-3B] and cannot take "
        + "NVIDIA L40S-1Q"), e.getMessage());
  }

  @Test
  void provision_mixesTypesOnAHeterogeneousGpu() {
    devices.setHeterogeneous(PF0);
    Lease a = vgpu.provision(VgpuRequest.ofType("vm-1", "L40S-3B").onNumaNode(0));
    Lease b = vgpu.provision(VgpuRequest.ofType("vm-2", "L40S-1Q").onNumaNode(0));
    assertEquals(List.of(PF0, PF0), List.of(a.vgpus().get(0).pf(), b.vgpus().get(0).pf()));
  }

  @Test
  void setHeterogeneous_afterTheFirstTypeIsRefusedNamingItAndChangesNothing() {
    PciAddress vf = devices.virtualFunctions(PF0).get(0);
    devices.activate(vf, B3);
    int before = commands.size();
    VgpuException e = assertThrows(VgpuException.class, () -> devices.setHeterogeneous(PF0));
    assertTrue(e.getMessage().contains("type " + B3.id() + " on VF " + vf), e.getMessage());
    assertEquals(List.of(before, VgpuMode.HOMOGENEOUS), List.of(commands.size(),
        devices.mode(PF0)));
  }

  @Test
  void nvidiaSmi_refusesWhileInUseWithExit19AndOnABadGpuWithExit6() {
    FakeNvidiaSmiVgpu smi = new FakeNvidiaSmiVgpu(host);
    devices.activate(devices.virtualFunctions(PF0).get(0), B3);
    CommandResult busy = smi.run(Command.of("nvidia-smi", "vgpu", "-shm", "1", "-i",
        "00000000:3D:00.0"));
    CommandResult bad = smi.run(Command.of("nvidia-smi", "vgpu", "-shm", "1", "-i", "0000:01:00.0"));
    assertEquals(List.of(19, true, 6), List.of(busy.exitCode(),
        busy.stderr().contains("In use by another client"), bad.exitCode()));
  }

  @Test
  void enablingVfsAgain_resetsTheMode() {
    devices.setHeterogeneous(PF0);
    devices.disable(PF0);
    devices.enable(PF0);
    assertEquals(VgpuMode.HOMOGENEOUS, devices.mode(PF0));
  }

  @Test
  void setHeterogeneous_withoutVfsIsRefused() {
    devices.disable(PF1);
    VgpuException e = assertThrows(VgpuException.class, () -> devices.setHeterogeneous(PF1));
    assertTrue(e.getMessage().contains("needs its SR-IOV VFs enabled first"), e.getMessage());
  }

  @Test
  void setHeterogeneous_onACardWithoutMixedSizesIsRefused() {
    CommandRunner notSupported = c -> new CommandResult(c.argv(), c.argv().contains("-shm") ? 3 : 0,
        "    vGPU Heterogeneous Mode : Disabled\n",
        c.argv().contains("-shm") ? "Unable to set: Not Supported\n" : "", Duration.ZERO, false);
    VgpuDevices other = VgpuDevices.on(sysfs, notSupported);
    VgpuException e = assertThrows(VgpuException.class, () -> other.setHeterogeneous(PF1));
    assertTrue(e.getMessage().contains("does not support heterogeneous mode"), e.getMessage());
  }

  @Test
  void mode_garbledLineIsAnInvalidValue() {
    CommandRunner garbled = c -> new CommandResult(c.argv(), 0,
        "    vGPU Heterogeneous Mode : Maybe\n", "", Duration.ZERO, false);
    assertThrows(io.gpuvirt.core.InvalidValueException.class,
        () -> VgpuDevices.on(sysfs, garbled).mode(PF0));
  }

  @ParameterizedTest
  @ValueSource(longs = {3, 11, 20261203})
  void mixedFillThenTeardownInRandomOrder_everyVfBackToTypeZero(long seed) {
    devices.setHeterogeneous(PF0);
    Random random = new Random(seed);
    List<String> types = List.of("L40S-1Q", "L40S-2B", "L40S-3B", "L40S-1B");
    List<String> owners = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      try {
        vgpu.provision(VgpuRequest.ofType("vm-" + i, types.get(random.nextInt(types.size())))
            .onNumaNode(0));
        owners.add("vm-" + i);
      } catch (AllocationRefusedException full) {
        // the framebuffer is used up for this size
      }
    }
    long used = ledger.leases().stream().mapToLong(l -> l.vgpus().get(0).type().framebufferMib())
        .sum();
    assertTrue(used <= L40S.cardFramebufferMib() && owners.size() > 1, "seed " + seed);
    Collections.shuffle(owners, random);
    owners.forEach(vgpu::teardown);
    assertEquals(List.of(0, List.of()), List.of(typedVfs(), ledger.leases()), "seed " + seed);
  }
}
