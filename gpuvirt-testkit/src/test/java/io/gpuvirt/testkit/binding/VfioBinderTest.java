package io.gpuvirt.testkit.binding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.InvalidPciAddressException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.pci.UnknownDeviceException;
import io.gpuvirt.core.vfio.BindException;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.BindResult;
import io.gpuvirt.core.vfio.BindStep;
import io.gpuvirt.core.vfio.DeviceBinding;
import io.gpuvirt.core.vfio.GroupRefusedException;
import io.gpuvirt.core.vfio.RestoreResult;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.core.vfio.VfioGroupNode;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** {@link VfioBinder} on the simulated presets: whole groups, exact restore, refusals. */
final class VfioBinderTest {
  private static final PciAddress B200_GPU = PciAddress.parse("0000:17:00.0");
  private static final PciAddress WS_GPU = PciAddress.parse("0000:01:00.0");
  private static final PciAddress WS_AUDIO = PciAddress.parse("0000:01:00.1");
  private static final PciAddress NO_ACS_GPU = PciAddress.parse("0000:03:00.0");
  private static final PciAddress NO_ACS_NIC = PciAddress.parse("0000:04:00.0");
  private static final Optional<String> VFIO = Optional.of("vfio-pci");

  private static BindRequest request(PciAddress... devices) {
    return BindRequest.builder().devices(List.of(devices)).build();
  }

  /** The endpoints (not bridges) of the device's IOMMU group. */
  private static Set<PciAddress> groupEndpoints(Topology t, PciAddress device) {
    return t.members(t.groupOf(device).orElseThrow()).stream().filter(d -> !d.isBridge())
        .map(PciDevice::address).collect(Collectors.toSet());
  }

  @Test
  void bind_b200Gpu_putsEveryEndpointOfItsGroupOnVfio() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      VfioBinder.on(host.sysfs()).bind(request(B200_GPU));

      Topology t = TopologyScanner.scan(host.sysfs());
      Set<PciAddress> group = groupEndpoints(t, B200_GPU);
      assertEquals(group, t.devices().stream().filter(d -> d.driver().equals(VFIO))
          .map(PciDevice::address).collect(Collectors.toSet()));
    }
  }

  @Test
  void bind_b200Gpu_leavesEveryOtherDeviceUntouched() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      HostSnapshot before = HostSnapshot.of(host);

      VfioBinder.on(host.sysfs()).bind(request(B200_GPU));

      Set<PciAddress> group = groupEndpoints(TopologyScanner.scan(host.sysfs()), B200_GPU);
      List<PciDevice> othersNow = HostSnapshot.of(host).devices().stream()
          .filter(d -> !group.contains(d.address())).toList();
      assertEquals(before.devices().stream().filter(d -> !group.contains(d.address())).toList(),
          othersNow);
    }
  }

  @Test
  void restore_b200Gpu_putsNvidiaBackAndTheHostAsItWas() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      HostSnapshot before = HostSnapshot.of(host);
      VfioBinder binder = VfioBinder.on(host.sysfs());
      BindResult bound = binder.bind(request(B200_GPU));

      binder.restore(bound.devices());

      HostSnapshot.assertSame(before, host, "after bind and restore of " + B200_GPU);
      assertEquals(Optional.of("nvidia"), before.driver(B200_GPU));
    }
  }

  @Test
  void bind_b200Gpu_reportsTheGroupDeviceNode() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      int group = TopologyScanner.scan(host.sysfs()).require(B200_GPU).iommuGroup().getAsInt();

      BindResult bound = VfioBinder.on(host.sysfs()).bind(request(B200_GPU));

      assertEquals(List.of(new VfioGroupNode(group, "/dev/vfio/" + group, List.of())),
          bound.groups());
    }
  }

  @Test
  void bind_deviceWithVfioDevDirectory_reportsTheIommufdCdev() throws IOException {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      Path device = host.root().resolve("sys/bus/pci/devices/" + B200_GPU).toRealPath();
      Files.createDirectories(device.resolve("vfio-dev/vfio3"));

      BindResult bound = VfioBinder.on(host.sysfs()).bind(request(B200_GPU));

      assertEquals(List.of("/dev/vfio/devices/vfio3"), bound.groups().get(0).deviceNodes());
    }
  }

  @Test
  void bind_workstationGpu_takesItsAudioFunctionAlong() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder.on(host.sysfs()).bind(request(WS_GPU));

      HostSnapshot now = HostSnapshot.of(host);
      assertEquals(List.of(VFIO, VFIO), List.of(now.driver(WS_GPU), now.driver(WS_AUDIO)));
    }
  }

  @Test
  void restore_workstationGpu_putsTheAudioFunctionBackOnItsDriver() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder binder = VfioBinder.on(host.sysfs());
      binder.restore(binder.bind(request(WS_GPU)).devices());

      HostSnapshot now = HostSnapshot.of(host);
      assertEquals(List.of(Optional.of("nvidia"), Optional.of("snd_hda_intel")),
          List.of(now.driver(WS_GPU), now.driver(WS_AUDIO)));
    }
  }

  @Test
  void bind_noAcsGpu_isRefusedNamingTheNic() {
    try (SimulatedHost host = SimulatedHost.noAcs()) {
      GroupRefusedException e = assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(host.sysfs()).bind(request(NO_ACS_GPU)));

      assertEquals(List.of(NO_ACS_NIC), e.foreignDevices());
      assertTrue(e.getMessage().contains(NO_ACS_NIC.toString()), e.getMessage());
    }
  }

  @Test
  void bind_noAcsGpu_changesNothingWhenRefused() {
    try (SimulatedHost host = SimulatedHost.noAcs()) {
      HostSnapshot before = HostSnapshot.of(host);
      long writes = host.writeCount();

      assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(host.sysfs()).bind(request(NO_ACS_GPU)));

      HostSnapshot.assertSame(before, host, "after a refused bind");
      assertEquals(writes, host.writeCount(), "a refused bind writes nothing");
    }
  }

  @Test
  void bind_noAcsGpuWithTheNicAllowed_bindsBoth() {
    try (SimulatedHost host = SimulatedHost.noAcs()) {
      VfioBinder.on(host.sysfs()).bind(BindRequest.builder().device(NO_ACS_GPU)
          .allowForeignDevice(NO_ACS_NIC).build());

      HostSnapshot now = HostSnapshot.of(host);
      assertEquals(List.of(VFIO, VFIO), List.of(now.driver(NO_ACS_GPU), now.driver(NO_ACS_NIC)));
    }
  }

  @Test
  void bind_iommuOff_isRefusedNamingTheGrubFix() {
    try (SimulatedHost host = SimulatedHost.iommuOff()) {
      GroupRefusedException e = assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(host.sysfs()).bind(request(NO_ACS_GPU)));

      assertTrue(e.getMessage().contains("IOMMU is off")
          && e.getMessage().contains("intel_iommu=on"), e.getMessage());
    }
  }

  @Test
  void bind_nvSwitchSharingAGroup_isRefusedBecauseClass0680IsNoBridge() {
    HostProfile sharedSwitches = HostProfile.hgxH100(false);
    try (SimulatedHost host = SimulatedHost.create(sharedSwitches)) {
      Topology t = TopologyScanner.scan(host.sysfs());
      PciDevice nvSwitch = t.nvSwitches().get(0);
      Set<PciAddress> others = groupEndpoints(t, nvSwitch.address());
      others.remove(nvSwitch.address());

      GroupRefusedException e = assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(host.sysfs()).bind(request(nvSwitch.address())));

      assertEquals(others, Set.copyOf(e.foreignDevices()));
    }
  }

  @Test
  void bind_aBridge_isRefused() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      GroupRefusedException e = assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(host.sysfs()).bind(request(PciAddress.parse("0000:00:01.0"))));

      assertTrue(e.getMessage().contains("bridge"), e.getMessage());
    }
  }

  @Test
  void bind_physicalFunctionWithVfsEnabled_isRefused() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      PciAddress nic = PciAddress.parse("0000:18:00.0");
      host.sysfs().write(nic.sysfsPath("sriov_numvfs"), "2");
      HostSnapshot before = HostSnapshot.of(host);

      assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(host.sysfs()).bind(request(nic)));

      HostSnapshot.assertSame(before, host, "after refusing a PF with VFs");
    }
  }

  @Test
  void bind_twice_isANoOpTheSecondTimeThatSaysSo() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder binder = VfioBinder.on(host.sysfs());
      binder.bind(request(WS_GPU));
      long writes = host.writeCount();

      BindResult again = binder.bind(request(WS_GPU));

      assertTrue(again.alreadyBound());
      assertEquals(writes, host.writeCount(), "binding what is bound writes nothing");
    }
  }

  @Test
  void restore_bindingsOfANoOpBind_leaveTheDevicesOnVfio() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder binder = VfioBinder.on(host.sysfs());
      binder.bind(request(WS_GPU));
      BindResult again = binder.bind(request(WS_GPU));

      RestoreResult r = binder.restore(again.devices());

      HostSnapshot now = HostSnapshot.of(host);
      assertEquals(List.of(List.of(), VFIO, VFIO),
          List.of(r.restored(), now.driver(WS_GPU), now.driver(WS_AUDIO)));
    }
  }

  @Test
  void bind_deviceAlreadyOnVfio_recordsItAsNotBoundByGpuvirt() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder binder = VfioBinder.on(host.sysfs());
      host.sysfs().write(WS_AUDIO.sysfsPath("driver_override"), "vfio-pci");
      host.sysfs().write(WS_AUDIO.sysfsPath("driver/unbind"), WS_AUDIO.toString());
      host.sysfs().write("/sys/bus/pci/drivers_probe", WS_AUDIO.toString());
      host.sysfs().write(WS_AUDIO.sysfsPath("driver_override"), "\n");

      BindResult bound = binder.bind(request(WS_GPU));

      assertEquals(List.of(true, false),
          bound.devices().stream().map(DeviceBinding::boundByGpuvirt).toList());
    }
  }

  @Test
  void restore_neverUnbindsADeviceGpuvirtDidNotBind() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder binder = VfioBinder.on(host.sysfs());
      host.sysfs().write(WS_AUDIO.sysfsPath("driver_override"), "vfio-pci");
      host.sysfs().write(WS_AUDIO.sysfsPath("driver/unbind"), WS_AUDIO.toString());
      host.sysfs().write("/sys/bus/pci/drivers_probe", WS_AUDIO.toString());
      host.sysfs().write(WS_AUDIO.sysfsPath("driver_override"), "\n");
      HostSnapshot before = HostSnapshot.of(host);

      binder.restore(binder.bind(request(WS_GPU)).devices());

      HostSnapshot.assertSame(before, host, "the audio function was on vfio-pci before");
    }
  }

  @Test
  void restore_deviceSomeoneElseMoved_isLeftAloneAndReported() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      VfioBinder binder = VfioBinder.on(host.sysfs());
      BindResult bound = binder.bind(request(B200_GPU));
      host.sysfs().write(B200_GPU.sysfsPath("driver/unbind"), B200_GPU.toString());

      RestoreResult r = binder.restore(bound.devices());

      assertEquals(List.of(Set.of(B200_GPU), Optional.empty()),
          List.of(r.untouched().keySet(), HostSnapshot.of(host).driver(B200_GPU)));
    }
  }

  @Test
  void restore_partOfABoundGroup_isRefusedAndChangesNothing() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder binder = VfioBinder.on(host.sysfs());
      BindResult bound = binder.bind(request(WS_GPU));
      HostSnapshot before = HostSnapshot.of(host);

      GroupRefusedException e = assertThrows(GroupRefusedException.class,
          () -> binder.restore(List.of(bound.devices().get(0))));

      assertEquals(List.of(WS_AUDIO), e.foreignDevices());
      HostSnapshot.assertSame(before, host, "after a refused partial restore");
    }
  }

  @Test
  void restore_originalOverride_isWrittenBackExactly() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      host.sysfs().write(B200_GPU.sysfsPath("driver_override"), "nvidia");
      HostSnapshot before = HostSnapshot.of(host);
      VfioBinder binder = VfioBinder.on(host.sysfs());

      binder.restore(binder.bind(request(B200_GPU)).devices());

      HostSnapshot.assertSame(before, host, "override nvidia before the bind");
    }
  }

  @Test
  void bind_leavesDriverOverrideCleared() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      VfioBinder.on(host.sysfs()).bind(request(B200_GPU));

      assertEquals(Optional.empty(), HostSnapshot.of(host).device(B200_GPU).driverOverride());
    }
  }

  @Test
  void restore_deviceThatHadNoDriver_leavesItUnbound() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      host.sysfs().write(B200_GPU.sysfsPath("driver/unbind"), B200_GPU.toString());
      HostSnapshot before = HostSnapshot.of(host);
      VfioBinder binder = VfioBinder.on(host.sysfs());

      binder.restore(binder.bind(request(B200_GPU)).devices());

      HostSnapshot.assertSame(before, host, "the GPU had no driver before the bind");
    }
  }

  @Test
  void bind_withReset_resetsTheGpuOnceOnItsHostDriver() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      VfioBinder.on(host.sysfs()).bind(BindRequest.builder().device(B200_GPU)
          .resetBeforeBind(true).build());

      assertEquals(1, host.resetCount(B200_GPU));
    }
  }

  @Test
  void bind_withoutReset_resetsNothing() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      VfioBinder.on(host.sysfs()).bind(request(B200_GPU));

      assertEquals(0, host.resetCount(B200_GPU));
    }
  }

  @Test
  void bind_variantDriver_bindsTheGroupToIt() {
    HostProfile grace = HostProfile.hgxB200().toBuilder().loadDriver("nvgrace_gpu_vfio_pci")
        .build();
    try (SimulatedHost host = SimulatedHost.create(grace)) {
      VfioBinder.on(host.sysfs()).bind(BindRequest.builder().device(B200_GPU)
          .driver("nvgrace_gpu_vfio_pci").build());

      assertEquals(Optional.of("nvgrace_gpu_vfio_pci"), HostSnapshot.of(host).driver(B200_GPU));
    }
  }

  @Test
  void bind_driverNotLoaded_failsAtCheckNamingModprobe() {
    HostProfile noVfio = HostProfile.hgxB200().toBuilder().unloadDriver("vfio-pci").build();
    try (SimulatedHost host = SimulatedHost.create(noVfio)) {
      BindException e = assertThrows(BindException.class,
          () -> VfioBinder.on(host.sysfs()).bind(request(B200_GPU)));

      assertEquals(BindStep.CHECK, e.step());
      assertTrue(e.getMessage().contains("modprobe vfio_pci"), e.getMessage());
    }
  }

  @Test
  void bind_driverNotLoaded_changesNothing() {
    HostProfile noVfio = HostProfile.hgxB200().toBuilder().unloadDriver("vfio-pci").build();
    try (SimulatedHost host = SimulatedHost.create(noVfio)) {
      HostSnapshot before = HostSnapshot.of(host);

      assertThrows(BindException.class, () -> VfioBinder.on(host.sysfs()).bind(request(B200_GPU)));

      HostSnapshot.assertSame(before, host, "after failing the driver check");
    }
  }

  @Test
  void bind_deviceThatDoesNotExist_isRefusedByNameAndChangesNothing() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      long writes = host.writeCount();
      PciAddress missing = PciAddress.parse("0000:42:00.0");

      UnknownDeviceException e = assertThrows(UnknownDeviceException.class,
          () -> VfioBinder.on(host.sysfs()).bind(request(B200_GPU, missing)));

      assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
      assertEquals(writes, host.writeCount());
    }
  }

  @Test
  void parse_malformedBdf_isRefusedBeforeAnythingIsRead() {
    for (String bad : List.of("17:00.0.1", "0000:17:00", "0000:g7:00.0", "0000:17:20.0",
        "0000:17:00.8", "../../0000:17:00.0", "")) {
      assertThrows(InvalidPciAddressException.class, () -> PciAddress.parse(bad), bad);
    }
  }

  @Test
  void bind_rootThatIsNotASysfsTree_failsNamingTheRoot(@org.junit.jupiter.api.io.TempDir Path dir)
      throws IOException {
    Files.writeString(dir.resolve("hello.txt"), "not sysfs");

    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> VfioBinder.on(io.gpuvirt.core.host.Sysfs.at(dir)).bind(request(B200_GPU)));

    assertTrue(e.getMessage().contains("not a sysfs tree"), e.getMessage());
  }

  @Test
  void request_withoutDevices_isRefused() {
    assertThrows(InvalidValueException.class, () -> BindRequest.builder().build());
  }

  @Test
  void request_withBadDriverName_isRefused() {
    assertThrows(InvalidValueException.class,
        () -> BindRequest.builder().device(B200_GPU).driver("../vfio-pci").build());
  }

  @Test
  void plan_workstationGpu_listsTheGroupsEndpointsWithoutTheRootPort() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      List<PciDevice> plan = VfioBinder.on(host.sysfs()).plan(request(WS_GPU));

      assertEquals(List.of(WS_GPU, WS_AUDIO), plan.stream().map(PciDevice::address).toList());
    }
  }

  @Test
  void plan_changesNothing() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      long writes = host.writeCount();

      VfioBinder.on(host.sysfs()).plan(request(WS_GPU));

      assertEquals(writes, host.writeCount());
    }
  }
}
