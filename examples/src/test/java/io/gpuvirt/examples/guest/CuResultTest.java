package io.gpuvirt.examples.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

final class CuResultTest {

  @ParameterizedTest(name = "{0} is {1}")
  @CsvSource({"0, CUDA_SUCCESS", "1, CUDA_ERROR_INVALID_VALUE", "2, CUDA_ERROR_OUT_OF_MEMORY",
      "3, CUDA_ERROR_NOT_INITIALIZED", "4, CUDA_ERROR_DEINITIALIZED",
      "34, CUDA_ERROR_STUB_LIBRARY", "46, CUDA_ERROR_DEVICE_UNAVAILABLE",
      "100, CUDA_ERROR_NO_DEVICE", "101, CUDA_ERROR_INVALID_DEVICE",
      "802, CUDA_ERROR_SYSTEM_NOT_READY", "803, CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
      "804, CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", "999, CUDA_ERROR_UNKNOWN"})
  void of_knownCode_hasItsCudaHName(int code, String name) {
    assertEquals(name, CuResult.of(code).name());
  }

  @Test
  void of_codeNotInCudaH_saysSo() {
    assertEquals("CUresult 35 (not in cuda.h)", CuResult.of(35).name());
  }

  @Test
  void known_codeNotInCudaH_isFalse() {
    assertFalse(CuResult.of(4242).known());
  }

  @Test
  void hint_notInitialized_pointsAtTheRootPort() {
    assertTrue(CuResult.of(3).hint().orElseThrow().contains("root port"));
  }

  @Test
  void hint_systemNotReady_pointsAtFabricManager() {
    assertTrue(CuResult.of(802).hint().orElseThrow().contains("Fabric Manager"));
  }

  @Test
  void hint_guestFacingCodes_allHaveOne() {
    assertTrue(List.of(3, 34, 100, 802, 803, 804, 999).stream()
        .allMatch(c -> CuResult.of(c).hint().isPresent()));
  }

  @Test
  void success_onlyForZero() {
    assertEquals(List.of(true, false), List.of(CuResult.of(0).success(), CuResult.of(3).success()));
  }
}
