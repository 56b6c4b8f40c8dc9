package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigBackendException;
import io.gpuvirt.core.mig.MigGpu;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigPlacement;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link MigBackend} does, on a simulated HGX B200 whose driver behaves as NVIDIA
 * documents: modes pending until a reset, placements chosen by the driver and read back,
 * "Insufficient Resources", instances in use, GPUs on VFIO invisible. Each implementation runs it
 * by extending this class.
 */
abstract class MigBackendContract {
  static final MigProfileTable B200 = MigProfileTable.b200();
  protected SimulatedHost host;
  protected MigBackend mig;

  /** The backend under test, on {@code host}. */
  protected abstract MigBackend backend(SimulatedHost host);

  @BeforeEach
  void b200() {
    host = SimulatedHost.hgxB200();
    mig = backend(host);
  }

  @AfterEach
  void close() {
    host.close();
  }

  private void enable(int gpu) {
    mig.setMode(gpu, true);
    mig.reset(gpu);
  }

  @Test
  void gpus_b200_listsEightGpusByAddressWithMigOff() {
    List<MigGpu> gpus = mig.gpus();

    assertEquals(8, gpus.size());
    assertEquals(PciAddress.parse("0000:17:00.0"), gpus.get(0).address());
    assertEquals(0x2901, gpus.get(0).pciDeviceId());
    assertEquals(MigMode.DISABLED, gpus.get(0).mode());
  }

  @Test
  void setMode_on_staysPendingUntilTheGpuIsReset() {
    MigMode pending = mig.setMode(0, true);
    mig.reset(0);

    assertEquals(new MigMode(MigMode.State.DISABLED, MigMode.State.ENABLED), pending);
    assertEquals(MigMode.ENABLED, mig.gpus().get(0).mode());
    assertEquals(MigMode.DISABLED, mig.gpus().get(1).mode(), "only GPU 0 changed");
  }

  @Test
  void createGpuInstance_returnsTheDriversIdAndPlacement() {
    enable(0);

    GpuInstance a = mig.createGpuInstance(0, B200.profile("3g.90gb"));
    GpuInstance b = mig.createGpuInstance(0, B200.profile("3g.90gb"));

    assertEquals(new MigPlacement(4, 4), a.placement(), "the highest free start first");
    assertEquals(new MigPlacement(0, 4), b.placement());
    assertFalse(a.id() == b.id());
    MigLayout layout = mig.layout(0, B200);
    assertEquals(2, layout.instances().size());
    assertEquals(2, mig.computeInstances(0).size(), "each with its default compute instance");
  }

  @Test
  void createGpuInstance_noFreePlacement_isInsufficientResourcesAndChangesNothing() {
    enable(0);
    mig.createGpuInstance(0, B200.profile("7g.180gb"));

    MigBackendException e = assertThrows(MigBackendException.class,
        () -> mig.createGpuInstance(0, B200.profile("1g.23gb")));

    assertTrue(e.getMessage().contains("Insufficient Resources"), e.getMessage());
    assertEquals(1, mig.layout(0, B200).instances().size());
  }

  @Test
  void createGpuInstance_migOff_isRefused() {
    assertThrows(MigBackendException.class,
        () -> mig.createGpuInstance(0, B200.profile("1g.23gb")));
  }

  @Test
  void destroyGpuInstance_withItsComputeInstance_isRefusedUntilThatIsDestroyed() {
    enable(0);
    GpuInstance gi = mig.createGpuInstance(0, B200.profile("2g.45gb"));
    int ci = mig.computeInstances(0).get(0).id();

    MigBackendException inUse = assertThrows(MigBackendException.class,
        () -> mig.destroyGpuInstance(0, gi.id()));
    mig.destroyComputeInstance(0, gi.id(), ci);
    mig.destroyGpuInstance(0, gi.id());

    assertTrue(inUse.getMessage().contains("In use"), inUse.getMessage());
    assertEquals(List.of(), mig.layout(0, B200).instances());
    assertEquals(List.of(), mig.computeInstances(0));
  }

  @Test
  void reset_destroysEveryInstance() {
    enable(1);
    mig.createGpuInstance(1, B200.profile("4g.90gb"));
    mig.createGpuInstance(1, B200.profile("1g.23gb"));

    mig.reset(1);

    assertEquals(List.of(), mig.layout(1, B200).instances());
    assertEquals(MigMode.ENABLED, mig.gpus().get(1).mode());
  }

  @Test
  void setMode_offWithInstances_isRefused() {
    enable(0);
    mig.createGpuInstance(0, B200.profile("1g.23gb"));

    assertThrows(MigBackendException.class, () -> mig.setMode(0, false));
    assertEquals(MigMode.ENABLED, mig.gpus().get(0).mode());
  }

  @Test
  void gpus_oneGpuOnVfio_isNotListedAndTheOthersRenumber() {
    String dev = "/sys/bus/pci/devices/0000:17:00.0";
    host.sysfs().write(dev + "/driver_override", "vfio-pci");
    host.sysfs().write(dev + "/driver/unbind", "0000:17:00.0");
    host.sysfs().write("/sys/bus/pci/drivers_probe", "0000:17:00.0");

    List<MigGpu> gpus = mig.gpus();

    assertEquals(7, gpus.size());
    assertEquals(0, gpus.get(0).index());
    assertEquals(PciAddress.parse("0000:3d:00.0"), gpus.get(0).address());
  }
}
