package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.fabric.FmReturnCode;

/**
 * A fault the simulated Fabric Manager injects into the next calls of one operation, as data:
 * a return code (NVLINK_ERROR on activate, TIMEOUT on list ...) or a hang.
 *
 * <pre>{@code
 * fabric.inject(FabricFault.fail(FabricOperation.ACTIVATE, FmReturnCode.NVLINK_ERROR));
 * fabric.inject(FabricFault.hang(FabricOperation.LIST).times(2));
 * }</pre>
 *
 * @param operation the operation that fails
 * @param kind a return code, or a hang
 * @param returnCode the code returned (TIMEOUT for a hang)
 * @param times how many calls fail; {@value #ALWAYS} for every call until cleared
 */
public record FabricFault(FabricOperation operation, Kind kind, FmReturnCode returnCode,
    int times) {
  /** {@link #times} value for a fault that never wears off. */
  public static final int ALWAYS = -1;

  /** How the fault shows. */
  public enum Kind {
    /** The call returns {@link #returnCode()}; {@code fmpm} exits with its status. */
    RETURN_CODE,
    /**
     * Fabric Manager does not answer: the library returns TIMEOUT after its timeout, and an
     * {@code fmpm} process hangs until its runner kills it.
     */
    HANG
  }

  public FabricFault {
    if (operation == null || kind == null || returnCode == null) {
      throw new InvalidValueException("a fault needs an operation, a kind and a return code");
    }
    if (returnCode == FmReturnCode.SUCCESS) {
      throw new InvalidValueException("a fault cannot return SUCCESS");
    }
    if (kind == Kind.HANG && returnCode != FmReturnCode.TIMEOUT) {
      throw new InvalidValueException("a hang returns TIMEOUT, not " + returnCode);
    }
    if (times == 0 || times < ALWAYS) {
      throw new InvalidValueException("a fault must fail 1 or more calls, or ALWAYS; was "
          + times);
    }
  }

  /** The next call of {@code operation} returns {@code code}. */
  public static FabricFault fail(FabricOperation operation, FmReturnCode code) {
    return new FabricFault(operation, Kind.RETURN_CODE, code, 1);
  }

  /** The next call of {@code operation} gets no answer. */
  public static FabricFault hang(FabricOperation operation) {
    return new FabricFault(operation, Kind.HANG, FmReturnCode.TIMEOUT, 1);
  }

  /** The same fault for the next {@code n} calls. */
  public FabricFault times(int n) {
    if (n < 1) {
      throw new InvalidValueException("times must be 1 or more, was " + n);
    }
    return new FabricFault(operation, kind, returnCode, n);
  }

  /** The same fault for every call until {@link SimulatedFabric#clearFaults()}. */
  public FabricFault always() {
    return new FabricFault(operation, kind, returnCode, ALWAYS);
  }
}
