package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import java.nio.file.FileSystemException;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Injected faults raise what Linux raises and change nothing. */
final class FaultTest {
  private static final PciAddress GPU = PciAddress.parse("0000:01:00.0");
  private static final String DEV = "/sys/bus/pci/devices/0000:01:00.0";
  private static final String PROBE = "/sys/bus/pci/drivers_probe";

  private SimulatedHost host;
  private Sysfs sysfs;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.workstation();
    sysfs = host.sysfs();
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  private String errno(Runnable op) {
    HostAccessException e = assertThrows(HostAccessException.class, op::run);
    return ((FileSystemException) e.getCause()).getReason();
  }

  private Optional<String> driver() {
    return sysfs.readLink(DEV + "/driver").map(ContractReader::basename);
  }

  private void unbind() {
    sysfs.write(DEV + "/driver/unbind", GPU.toString());
  }

  @Test
  void unbindBusy_failsWithEbusyAndKeepsTheDriver() {
    host.inject(Fault.unbindBusy(GPU));
    assertEquals(List.of("Device or resource busy", Optional.of("nvidia")),
        List.of(errno(this::unbind), driver()));
  }

  @Test
  void unbindBusy_alsoHitsTheDriverDirectoryUnbind() {
    host.inject(Fault.unbindBusy(GPU));
    assertEquals("Device or resource busy",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/nvidia/unbind", GPU.toString())));
  }

  @Test
  void oneShotFault_firesOnce() {
    host.inject(Fault.unbindBusy(GPU));
    errno(this::unbind);
    unbind();
    assertEquals(Optional.empty(), driver());
  }

  @Test
  void timesFault_firesThatManyTimes() {
    host.inject(Fault.unbindBusy(GPU).times(2));
    errno(this::unbind);
    errno(this::unbind);
    unbind();
    assertEquals(List.of(), host.faults());
  }

  @Test
  void persistentFault_firesUntilCleared() {
    host.inject(Fault.unbindBusy(GPU).persistent());
    errno(this::unbind);
    errno(this::unbind);
    host.clearFaults();
    unbind();
    assertEquals(Optional.empty(), driver());
  }

  @Test
  void fault_onAnotherDevice_doesNotFire() {
    host.inject(Fault.unbindBusy(PciAddress.parse("0000:01:00.1")));
    unbind();
    assertEquals(1, host.faults().size());
  }

  @Test
  void probeFails_driversProbeSucceedsButLeavesTheDeviceUnbound() {
    unbind();
    host.inject(Fault.probeFails(GPU));
    sysfs.write(PROBE, GPU.toString());
    assertEquals(List.of(Optional.empty(), List.of()), List.of(driver(), host.faults()));
  }

  @Test
  void probeFails_bindFailsWithEio() {
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    unbind();
    host.inject(Fault.probeFails(GPU));
    assertEquals(List.of("Input/output error", Optional.empty()), List.of(
        errno(() -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/bind", GPU.toString())),
        driver()));
  }

  @Test
  void bindFails_failsWithEnodevButDriversProbeStillBinds() {
    sysfs.write(DEV + "/driver_override", "vfio-pci");
    unbind();
    host.inject(Fault.bindFails(GPU).persistent());
    String error = errno(() -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/bind", GPU.toString()));
    sysfs.write(PROBE, GPU.toString());
    assertEquals(List.of("No such device", Optional.of("vfio-pci")), List.of(error, driver()));
  }

  @Test
  void resetFails_failsWithEioAndCountsNoReset() {
    host.inject(Fault.resetFails(GPU));
    assertEquals(List.of("Input/output error", 0),
        List.of(errno(() -> sysfs.write(DEV + "/reset", "1")), host.resetCount(GPU)));
  }

  @Test
  void sriovFails_failsWithEioAndCreatesNoVfs() {
    try (SimulatedHost b200 = SimulatedHost.hgxB200()) {
      b200.inject(Fault.sriovFails(PciAddress.parse("0000:18:00.0")));
      HostAccessException e = assertThrows(HostAccessException.class, () -> b200.sysfs()
          .write("/sys/bus/pci/devices/0000:18:00.0/sriov_numvfs", "2"));
      assertEquals(List.of("Input/output error", "0\n"), List.of(
          ((FileSystemException) e.getCause()).getReason(),
          b200.sysfs().read("/sys/bus/pci/devices/0000:18:00.0/sriov_numvfs")));
    }
  }

  @Test
  void writeFails_onAPath_failsWithEioAndChangesNothing() {
    host.inject(Fault.writeFails(DEV + "/driver_override"));
    assertEquals(List.of("Input/output error", "(null)\n"), List.of(
        errno(() -> sysfs.write(DEV + "/driver_override", "vfio-pci")),
        sysfs.read(DEV + "/driver_override")));
  }

  @Test
  void writeFails_matchesTheCanonicalPathToo() {
    host.inject(Fault.writeFails("/sys/bus/pci/drivers/nvidia/unbind"));
    assertEquals("Input/output error", errno(this::unbind));
  }

  @Test
  void readFails_failsTheNextReadWithEio() {
    host.inject(Fault.readFails(DEV + "/config"));
    String error = errno(() -> sysfs.readBytes(DEV + "/config"));
    assertEquals(List.of("Input/output error", 4096),
        List.of(error, sysfs.readBytes(DEV + "/config").length));
  }

  @Test
  void faults_areSeenByAnotherHandleOnTheSameTree() {
    try (SimulatedHost other = SimulatedHost.open(host.root())) {
      other.inject(Fault.unbindBusy(GPU));
      assertEquals("Device or resource busy", errno(this::unbind));
    }
  }

  @Test
  void faults_listsPendingFaultsInOrder() {
    host.inject(Fault.unbindBusy(GPU));
    host.inject(Fault.resetFails(GPU).persistent());
    assertEquals(List.of(Fault.unbindBusy(GPU), Fault.resetFails(GPU).persistent()),
        host.faults());
  }

  @Test
  void times_belowOne_isRefused() {
    assertThrows(InvalidValueException.class, () -> Fault.unbindBusy(GPU).times(0));
  }
}
