package io.gpuvirt.examples.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CUDA probe through JNA against fake libcuda builds (src/test/c/fake-cuda.c, gcc). */
final class CudaDriverProbeTest {
  @TempDir Path dir;

  private CudaStatus probe(int initResult, int devices) {
    return CudaDriverProbe.probe(FakeCuda.build(dir, initResult, devices).toString());
  }

  @Test
  void probe_initSucceeds_countsTheDevices() {
    assertEquals(OptionalInt.of(4), probe(0, 4).deviceCount());
  }

  @Test
  void probe_initSucceeds_isOk() {
    assertTrue(probe(0, 1).ok());
  }

  @Test
  void probe_readsTheDriverVersion() {
    assertEquals(Optional.of("13.0"), probe(0, 1).driverVersionText());
  }

  @Test
  void probe_initFails_reportsTheCodeByTheLibrarysName() {
    CudaStatus s = probe(802, 1);
    assertEquals(Optional.of("802 CUDA_ERROR_SYSTEM_NOT_READY"),
        s.init().map(r -> r.code() + " " + s.initName().orElseThrow()));
  }

  @Test
  void probe_initFails_doesNotCountDevices() {
    assertEquals(Optional.empty(), probe(3, 1).deviceCountResult());
  }

  @Test
  void probe_initSucceedsWithNoDevice_isNotOk() {
    assertFalse(probe(0, 0).ok());
  }

  @Test
  void probe_codeOnlyTheLibraryKnows_usesTheLibrarysName() {
    assertEquals(Optional.of("CUDA_ERROR_FROM_A_NEWER_DRIVER"), probe(4242, 1).initName());
  }

  @Test
  void probe_codeTheLibraryDoesNotKnow_fallsBackToTheTable() {
    CudaStatus s = probe(999, 1);
    assertEquals(Optional.of("CUDA_ERROR_UNKNOWN"), s.initName());
  }

  @Test
  void probe_libraryWithoutCuGetErrorName_namesFromTheTable() {
    CudaStatus s = CudaDriverProbe.probe(FakeCuda.buildWithoutErrorName(dir, 3).toString());
    assertEquals(Optional.of("CUDA_ERROR_NOT_INITIALIZED"), s.initName());
  }

  @Test
  void probe_libraryWithoutCuGetErrorName_saysTheNameIsNotTheLibrarys() {
    CudaStatus s = CudaDriverProbe.probe(FakeCuda.buildWithoutErrorName(dir, 3).toString());
    assertEquals(Optional.empty(), s.initNameFromLibrary());
  }

  @Test
  void probe_libraryThatIsNotCuda_isReportedNotLoaded() {
    CudaStatus s = CudaDriverProbe.probe(FakeCuda.buildNotCuda(dir).toString());
    assertTrue(s.loadError().orElseThrow().contains("no cuInit"), s.toString());
  }

  @Test
  void probe_missingLibrary_isReportedNotThrown() {
    CudaStatus s = CudaDriverProbe.probe(dir.resolve("libcuda.so.1").toString());
    assertTrue(!s.loaded() && s.loadError().orElseThrow().contains("No such file"),
        s.toString());
  }

  @Test
  void probe_blankName_isRefused() {
    assertThrows(InvalidValueException.class, () -> CudaDriverProbe.probe(" "));
  }
}
