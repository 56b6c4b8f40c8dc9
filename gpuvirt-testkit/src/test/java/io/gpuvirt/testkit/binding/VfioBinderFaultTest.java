package io.gpuvirt.testkit.binding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vfio.BindException;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.BindResult;
import io.gpuvirt.core.vfio.BindStep;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.testkit.Fault;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A fault at every step of binding and of restoring, on the first, a middle and the last of the
 * eight B200 GPUs: the call fails naming the device and the step, and the host is exactly as it
 * was before the call (drivers, {@code driver_override}s, {@code /dev/vfio}).
 */
final class VfioBinderFaultTest {
  private static final List<PciAddress> GPUS = Stream.of("17", "3d", "60", "70", "98", "bb",
      "dd", "ed").map(b -> PciAddress.parse("0000:" + b + ":00.0")).toList();
  private static final String PROBE = "/sys/bus/pci/drivers_probe";
  private static final List<BindStep> BIND_STEPS = List.of(BindStep.RESET, BindStep.SET_OVERRIDE,
      BindStep.UNBIND, BindStep.PROBE, BindStep.VERIFY, BindStep.CLEAR_OVERRIDE);
  private static final List<BindStep> RESTORE_STEPS = List.of(BindStep.SET_OVERRIDE,
      BindStep.UNBIND, BindStep.PROBE, BindStep.VERIFY, BindStep.CLEAR_OVERRIDE);

  private SimulatedHost host;
  private FailingSysfs sysfs;
  private VfioBinder binder;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.hgxB200();
    sysfs = new FailingSysfs(host.sysfs());
    binder = VfioBinder.on(sysfs);
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  static Stream<Arguments> bindFaults() {
    List<Arguments> out = new ArrayList<>();
    for (BindStep step : BIND_STEPS) {
      for (int gpu : new int[] {0, 2, 7}) {
        out.add(Arguments.of(step, gpu));
      }
    }
    return out.stream();
  }

  static Stream<Arguments> restoreFaults() {
    List<Arguments> out = new ArrayList<>();
    for (BindStep step : RESTORE_STEPS) {
      for (int gpu : new int[] {0, 2, 7}) {
        out.add(Arguments.of(step, gpu));
      }
    }
    return out.stream();
  }

  static Stream<BindStep> bindSteps() {
    return BIND_STEPS.stream();
  }

  static Stream<BindStep> restoreSteps() {
    return RESTORE_STEPS.stream();
  }

  private static BindRequest allGpus() {
    return BindRequest.builder().devices(GPUS).resetBeforeBind(true).build();
  }

  /**
   * Makes {@code step} fail for {@code device}: through the simulated kernel's own faults where
   * it can target the step, else by failing that one write. {@code finalOverride} is what the
   * CLEAR_OVERRIDE step writes to {@code driver_override}.
   */
  private void inject(BindStep step, PciAddress device, String finalOverride) {
    switch (step) {
      case RESET -> host.inject(Fault.resetFails(device));
      case SET_OVERRIDE -> host.inject(Fault.writeFails(device.sysfsPath("driver_override")));
      case UNBIND -> host.inject(Fault.unbindBusy(device));
      case PROBE -> sysfs.failWrite(PROBE, device.toString());
      case VERIFY -> host.inject(Fault.probeFails(device));
      case CLEAR_OVERRIDE -> sysfs.failWrite(device.sysfsPath("driver_override"),
          finalOverride);
      default -> throw new IllegalArgumentException("no fault for " + step);
    }
  }

  @ParameterizedTest(name = "{0} fails on GPU {1}")
  @MethodSource("bindFaults")
  void bind_faultAtStep_leavesTheHostExactlyAsBefore(BindStep step, int gpu) {
    HostSnapshot before = HostSnapshot.of(host);
    inject(step, GPUS.get(gpu), "\n");

    assertThrows(BindException.class, () -> binder.bind(allGpus()));

    HostSnapshot.assertSame(before, host, step + " failing on " + GPUS.get(gpu));
  }

  @ParameterizedTest(name = "{0} fails on GPU {1}")
  @MethodSource("bindFaults")
  void bind_faultAtStep_namesTheDeviceTheStepAndTheReason(BindStep step, int gpu) {
    PciAddress device = GPUS.get(gpu);
    inject(step, device, "\n");

    BindException e = assertThrows(BindException.class, () -> binder.bind(allGpus()));

    assertEquals(List.of(Optional.of(device), step), List.of(e.device(), e.step()));
    assertTrue(e.getMessage().startsWith("binding " + device + " to vfio-pci failed at " + step)
        && (e.getMessage().contains("Input/output error") || e.getMessage().contains("busy")
            || e.getMessage().contains("on no driver")), e.getMessage());
  }

  @ParameterizedTest(name = "{0} fails")
  @MethodSource("bindSteps")
  void bind_afterAFault_succeedsOnRetry(BindStep step) {
    inject(step, GPUS.get(2), "\n");
    assertThrows(BindException.class, () -> binder.bind(allGpus()));

    binder.bind(allGpus());

    HostSnapshot now = HostSnapshot.of(host);
    assertEquals(GPUS.stream().map(g -> Optional.of("vfio-pci")).toList(),
        GPUS.stream().map(now::driver).toList());
  }

  @ParameterizedTest(name = "{0} fails on GPU {1}")
  @MethodSource("restoreFaults")
  void restore_faultAtStep_leavesEveryDeviceBoundAsBefore(BindStep step, int gpu) {
    BindResult bound = binder.bind(allGpus());
    HostSnapshot before = HostSnapshot.of(host);
    inject(step, GPUS.get(gpu), "\n");

    assertThrows(BindException.class, () -> binder.restore(bound.devices()));

    HostSnapshot.assertSame(before, host, step + " failing on " + GPUS.get(gpu));
  }

  @ParameterizedTest(name = "{0} fails on GPU {1}")
  @MethodSource("restoreFaults")
  void restore_faultAtStep_namesTheDeviceAndTheStep(BindStep step, int gpu) {
    BindResult bound = binder.bind(allGpus());
    PciAddress device = GPUS.get(gpu);
    inject(step, device, "\n");

    BindException e = assertThrows(BindException.class, () -> binder.restore(bound.devices()));

    assertEquals(List.of(Optional.of(device), step), List.of(e.device(), e.step()));
    assertTrue(e.getMessage().startsWith("restoring " + device + " to nvidia failed at " + step),
        e.getMessage());
  }

  @ParameterizedTest(name = "{0} fails")
  @MethodSource("restoreSteps")
  void restore_afterAFault_succeedsOnRetryAndPutsTheHostBack(BindStep step) {
    HostSnapshot boot = HostSnapshot.of(host);
    BindResult bound = binder.bind(allGpus());
    inject(step, GPUS.get(2), "\n");
    assertThrows(BindException.class, () -> binder.restore(bound.devices()));

    binder.restore(bound.devices());

    HostSnapshot.assertSame(boot, host, "after a failed restore and a retry");
  }

  @ParameterizedTest(name = "{0} fails")
  @MethodSource("overrideFaults")
  void bind_faultWithOverridesSetBefore_putsTheOverridesBack(BindStep step) {
    sysfs.write(GPUS.get(0).sysfsPath("driver_override"), "nvidia");
    sysfs.write(GPUS.get(2).sysfsPath("driver_override"), "nvidia");
    HostSnapshot before = HostSnapshot.of(host);
    inject(step, GPUS.get(2), "\n");

    assertThrows(BindException.class, () -> binder.bind(allGpus()));

    HostSnapshot.assertSame(before, host, step + " failing with overrides set before");
  }

  /** An override of {@code none} blocks probing but leaves the bound driver alone. */
  @ParameterizedTest(name = "{0} fails")
  @MethodSource("overrideFaults")
  void restore_faultWithOverridesSetBefore_keepsEveryDeviceBound(BindStep step) {
    sysfs.write(GPUS.get(2).sysfsPath("driver_override"), "none");
    BindResult bound = binder.bind(allGpus());
    HostSnapshot before = HostSnapshot.of(host);
    inject(step, GPUS.get(2), "none");

    assertThrows(BindException.class, () -> binder.restore(bound.devices()));

    HostSnapshot.assertSame(before, host, step + " failing on restore");
  }

  static Stream<BindStep> overrideFaults() {
    return Stream.of(BindStep.SET_OVERRIDE, BindStep.UNBIND, BindStep.VERIFY,
        BindStep.CLEAR_OVERRIDE);
  }

  @Test
  void bind_workstationAudioFault_putsTheGpuBackToo() {
    try (SimulatedHost ws = SimulatedHost.workstation()) {
      PciAddress audio = PciAddress.parse("0000:01:00.1");
      HostSnapshot before = HostSnapshot.of(ws);
      ws.inject(Fault.unbindBusy(audio));

      assertThrows(BindException.class, () -> VfioBinder.on(ws.sysfs())
          .bind(BindRequest.builder().device(PciAddress.parse("0000:01:00.0")).build()));

      HostSnapshot.assertSame(before, ws, "audio function busy");
    }
  }

  @Test
  void bind_rollbackThatFailsToo_namesTheDeviceLeftBehind() {
    host.inject(Fault.unbindBusy(GPUS.get(2)));
    sysfs.failWrite(GPUS.get(0).sysfsPath("driver_override"), "nvidia");

    BindException e = assertThrows(BindException.class, () -> binder.bind(allGpus()));

    assertTrue(e.getMessage().contains("Rolling back failed for " + GPUS.get(0) + " at "
        + BindStep.SET_OVERRIDE) && e.getSuppressed().length == 1, e.getMessage());
  }

  @Test
  void bind_rollbackThatFailsToo_stillRestoresTheOtherDevices() {
    host.inject(Fault.unbindBusy(GPUS.get(2)));
    sysfs.failWrite(GPUS.get(0).sysfsPath("driver_override"), "nvidia");

    assertThrows(BindException.class, () -> binder.bind(allGpus()));

    HostSnapshot now = HostSnapshot.of(host);
    assertEquals(List.of(Optional.of("vfio-pci"), Optional.of("nvidia"), Optional.of("nvidia")),
        List.of(now.driver(GPUS.get(0)), now.driver(GPUS.get(1)), now.driver(GPUS.get(2))));
  }
}
