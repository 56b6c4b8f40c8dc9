package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import io.gpuvirt.core.mig.ComputeInstance;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.MigBackendException;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the NVML backend does when NVML fails or answers nonsense: a typed
 * {@link MigBackendException} naming the GPU, the call and the code, and nothing changed on the
 * GPU (checked through the simulated {@code nvidia-smi}, the other view of the same driver).
 */
final class NvmlMigBackendFaultTest {
  private static final MigProfileTable B200 = MigProfileTable.b200();
  @TempDir Path dir;
  private SimulatedHost host;
  private NvidiaSmiMigBackend smi;

  @BeforeEach
  void b200WithMigOnGpu0() {
    host = SimulatedHost.hgxB200();
    smi = NvmlFixture.smi(host);
    smi.setMode(0, true);
    smi.reset(0);
  }

  @AfterEach
  void close() {
    host.close();
  }

  /** What nvidia-smi sees on GPU 0: its GPU instances and compute instances. */
  private List<Object> gpu0() {
    return List.of(smi.layout(0, B200), smi.computeInstances(0));
  }

  @Test
  void createGpuInstance_insufficientResources_namesTheGpuTheCallAndTheCode() {
    try (NvmlMigBackend nvml = NvmlFixture.open(host)) {
      nvml.createGpuInstance(0, B200.profile("7g.180gb"));

      MigBackendException e = assertThrows(MigBackendException.class,
          () -> nvml.createGpuInstance(0, B200.profile("3g.90gb")));

      assertTrue(e.getMessage().contains("GPU 0 (0000:17:00.0)"), e.getMessage());
      assertTrue(e.getMessage().contains("nvmlDeviceCreateGpuInstance(profile 9, 3g.90gb)"),
          e.getMessage());
      assertTrue(e.getMessage().contains(
          "NVML_ERROR_INSUFFICIENT_RESOURCES (23): Insufficient Resources"), e.getMessage());
    }
  }

  @Test
  void layout_profileIdTheTableDoesNotHave_isRefusedAndChangesNothing() {
    smi.createGpuInstance(0, B200.profile("2g.45gb"));
    List<Object> before = gpu0();
    try (NvmlMigBackend nvml = NvmlFixture.corrupted(host, real -> new ForwardingNvml(real) {
      @Override
      public int nvmlGpuInstanceGetInfo(Pointer gi, GpuInstanceInfo info) {
        int rc = real.nvmlGpuInstanceGetInfo(gi, info);
        info.profileId = 77;
        return rc;
      }
    })) {
      MigBackendException e = assertThrows(MigBackendException.class,
          () -> nvml.layout(0, B200));

      assertTrue(e.getMessage().contains("profile id 77"), e.getMessage());
    }
    assertEquals(before, gpu0());
  }

  @Test
  void layout_driverProfileWithInstancesTheTableLacks_namesTheTable() {
    smi.createGpuInstance(0, B200.profile("2g.45gb"));
    MigProfileTable without2g = new MigProfileTable("B200 without 2g", B200.pciDeviceIds(), 7, 8,
        B200.profiles().stream().filter(p -> !p.name().equals("2g.45gb")).toList());
    try (NvmlMigBackend nvml = NvmlFixture.open(host)) {
      MigBackendException e = assertThrows(MigBackendException.class,
          () -> nvml.layout(0, without2g));

      assertTrue(e.getMessage().contains("profile id 14")
          && e.getMessage().contains("B200 without 2g"), e.getMessage());
    }
  }

  @Test
  void layout_countBeyondTheProfilesMaximum_isRefusedAndChangesNothing() {
    smi.createGpuInstance(0, B200.profile("1g.23gb"));
    List<Object> before = gpu0();
    try (NvmlMigBackend nvml = NvmlFixture.corrupted(host, real -> new ForwardingNvml(real) {
      @Override
      public int nvmlDeviceGetGpuInstances(Pointer device, int profileId, Pointer gis,
          IntByReference count) {
        int rc = real.nvmlDeviceGetGpuInstances(device, profileId, gis, count);
        count.setValue(100_000);
        return rc;
      }
    })) {
      MigBackendException e = assertThrows(MigBackendException.class,
          () -> nvml.layout(0, B200));

      assertTrue(e.getMessage().contains("100000 GPU instances"), e.getMessage());
    }
    assertEquals(before, gpu0());
  }

  @Test
  void computeInstances_countOverflow_isRefused() {
    smi.createGpuInstance(0, B200.profile("3g.90gb"));
    try (NvmlMigBackend nvml = NvmlFixture.corrupted(host, real -> new ForwardingNvml(real) {
      @Override
      public int nvmlGpuInstanceGetComputeInstances(Pointer gi, int profileId, Pointer cis,
          IntByReference count) {
        int rc = real.nvmlGpuInstanceGetComputeInstances(gi, profileId, cis, count);
        count.setValue(-1);
        return rc;
      }
    })) {
      MigBackendException e = assertThrows(MigBackendException.class,
          () -> nvml.computeInstances(0));

      assertTrue(e.getMessage().contains("4294967295 compute instances"), e.getMessage());
    }
  }

  @Test
  void gpus_countBeyondAnyHost_isRefused() {
    try (NvmlMigBackend nvml = NvmlFixture.corrupted(host, real -> new ForwardingNvml(real) {
      @Override
      public int nvmlDeviceGetCount_v2(IntByReference count) {
        count.setValue(Integer.MAX_VALUE);
        return 0;
      }
    })) {
      MigBackendException e = assertThrows(MigBackendException.class, nvml::gpus);

      assertTrue(e.getMessage().contains("2147483647 GPUs"), e.getMessage());
    }
  }

  @Test
  void layout_profileConstantsWithoutEnd_isRefused() {
    try (NvmlMigBackend nvml = NvmlFixture.corrupted(host, real -> new ForwardingNvml(real) {
      @Override
      public int nvmlDeviceGetGpuInstanceProfileInfo(Pointer device, int profile,
          GpuInstanceProfileInfo info) {
        int rc = real.nvmlDeviceGetGpuInstanceProfileInfo(device, profile, info);
        return rc == NvmlReturn.INVALID_ARGUMENT ? NvmlReturn.NOT_SUPPORTED : rc;
      }
    })) {
      MigBackendException e = assertThrows(MigBackendException.class,
          () -> nvml.layout(0, B200));

      assertTrue(e.getMessage().contains("without INVALID_ARGUMENT"), e.getMessage());
    }
  }

  @Test
  void createGpuInstance_placementTheProfileDoesNotAllow_destroysTheInstanceAgain() {
    List<Object> before = gpu0();
    try (NvmlMigBackend nvml = NvmlFixture.corrupted(host, real -> new ForwardingNvml(real) {
      @Override
      public int nvmlGpuInstanceGetInfo(Pointer gi, GpuInstanceInfo info) {
        int rc = real.nvmlGpuInstanceGetInfo(gi, info);
        info.placementStart = 1; // 3g.90gb sits at 0:4 or 4:4 only
        return rc;
      }
    })) {
      MigBackendException e = assertThrows(MigBackendException.class,
          () -> nvml.createGpuInstance(0, B200.profile("3g.90gb")));

      assertTrue(e.getMessage().contains("1:4"), e.getMessage());
    }
    assertEquals(before, gpu0());
  }

  @Test
  void createGpuInstance_computeInstanceRefused_destroysTheGpuInstanceAgain() {
    List<Object> before = gpu0();
    try (NvmlMigBackend nvml = NvmlFixture.corrupted(host, real -> new ForwardingNvml(real) {
      @Override
      public int nvmlGpuInstanceCreateComputeInstance(Pointer gi, int profileId,
          PointerByReference ci) {
        return NvmlReturn.INSUFFICIENT_RESOURCES;
      }
    })) {
      MigBackendException e = assertThrows(MigBackendException.class,
          () -> nvml.createGpuInstance(0, B200.profile("1g.23gb")));

      assertTrue(e.getMessage().contains("nvmlGpuInstanceCreateComputeInstance"),
          e.getMessage());
    }
    assertEquals(before, gpu0());
  }

  @Test
  void gpus_driverWithoutTheMigCalls_namesTheMissingFunction() {
    try (NvmlMigBackend nvml = NvmlFixture.corrupted(host, real -> new ForwardingNvml(real) {
      @Override
      public int nvmlDeviceGetMigMode(Pointer device, IntByReference c, IntByReference p) {
        throw new UnsatisfiedLinkError("Error looking up function 'nvmlDeviceGetMigMode'");
      }
    })) {
      MigBackendException e = assertThrows(MigBackendException.class, nvml::gpus);

      assertTrue(e.getMessage().contains("has no nvmlDeviceGetMigMode"), e.getMessage());
    }
  }

  @Test
  void open_missingLibrary_namesThePath() {
    String missing = dir.resolve("libnvidia-ml.so.1").toString();

    MigBackendException e = assertThrows(MigBackendException.class, () -> NvmlMigBackend.open(
        NvmlMigOptions.defaults().withLibrary(missing), smi()));

    assertTrue(e.getMessage().contains("could not load NVML from " + missing), e.getMessage());
  }

  @Test
  void open_libraryWithoutADriverBehindIt_isDriverNotLoaded() throws IOException {
    Path lib = Files.copy(NvmlFixture.built(), dir.resolve("libnvidia-ml.so.1"));

    MigBackendException e = assertThrows(MigBackendException.class, () -> NvmlMigBackend.open(
        NvmlMigOptions.defaults().withLibrary(lib.toString()), smi()));

    assertTrue(e.getMessage().contains("nvmlInit_v2 failed with NVML_ERROR_DRIVER_NOT_LOADED"),
        e.getMessage());
  }

  @Test
  void gpus_afterClose_isRefused() {
    NvmlMigBackend nvml = NvmlFixture.open(host);
    nvml.close();

    MigBackendException e = assertThrows(MigBackendException.class, nvml::gpus);

    assertTrue(e.getMessage().contains("closed"), e.getMessage());
  }

  @Test
  void computeInstances_defaultOne_isNamedAfterItsGpuInstance() {
    try (NvmlMigBackend nvml = NvmlFixture.open(host)) {
      GpuInstance gi = nvml.createGpuInstance(0, B200.profile("3g.90gb"));

      assertEquals(List.of(new ComputeInstance(0, gi.id(), "3g.90gb", 2)),
          nvml.computeInstances(0));
    }
  }

  private io.gpuvirt.core.host.CommandRunner smi() {
    return io.gpuvirt.core.gpuhost.GpuHost.environment(host.root()).commands();
  }
}
