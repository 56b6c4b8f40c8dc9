package io.gpuvirt.core.fabric;

import java.util.Optional;

/**
 * Fabric Manager return codes ({@code fmReturn_t}), by the names of the libnvfm headers without the
 * {@code FM_ST_} prefix. Codes -11 and below exist in 610-series headers only.
 */
public enum FmReturnCode {
  SUCCESS(0),
  BADPARAM(-1),
  GENERIC_ERROR(-2),
  NOT_SUPPORTED(-3),
  UNINITIALIZED(-4),
  TIMEOUT(-5),
  VERSION_MISMATCH(-6),
  IN_USE(-7),
  NOT_CONFIGURED(-8),
  CONNECTION_NOT_VALID(-9),
  NVLINK_ERROR(-10),
  RESOURCE_BAD(-11),
  RESOURCE_IN_USE(-12),
  RESOURCE_NOT_IN_USE(-13),
  RESOURCE_EXHAUSTED(-14),
  RESOURCE_NOT_READY(-15),
  PARTITION_EXISTS(-16),
  PARTITION_ID_IN_USE(-17),
  PARTITION_ID_NOT_IN_USE(-18),
  PARTITION_NAME_IN_USE(-19),
  PARTITION_NAME_NOT_IN_USE(-20),
  PARTITION_ID_NAME_MISMATCH(-21),
  NOT_READY(-22),
  RESOURCE_USED_IN_THIS_PARTITION(-23),
  RESOURCE_USED_IN_ANOTHER_PARTITION(-24),
  PARTITION_MISWIRED_TRUNKS(-25),
  PARTITION_INSUFFICIENT_TRUNKS(-26),
  PARTITION_MISSING_SWITCHES(-27),
  PARTITION_NETWORK_CONFIG_ERROR(-28),
  PARTITION_ROUTE_PROGRAMMING_ERROR(-29);

  private final int code;

  FmReturnCode(int code) {
    this.code = code;
  }

  /** The C value, 0 or negative. */
  public int code() {
    return code;
  }

  /** The exit status a shell sees when a program exits with this code ({@code code & 0xff}). */
  public int exitStatus() {
    return code & 0xff;
  }

  /**
   * What the code means and, where there is one, what to do about it, for messages. Meanings from
   * the Fabric Manager User Guide's "Partition Life Cycle Errors" where it gives them.
   */
  public String meaning() {
    return switch (this) {
      case SUCCESS -> "success";
      case BADPARAM -> "a bad parameter (no such partition id, or a malformed list)";
      case GENERIC_ERROR -> "a generic Fabric Manager error; see /var/log/fabricmanager.log";
      case NOT_SUPPORTED -> "not supported: Fabric Manager is not in the mode this call needs "
          + "(FABRIC_MODE=1 in fabricmanager.cfg for whole-GPU partitions, 2 for partitions "
          + "activated with VFs), or the partition is unsupported";
      case UNINITIALIZED -> "not initialised, or the partition is already deactivated";
      case TIMEOUT -> "Fabric Manager did not answer in time; check that nvidia-fabricmanager "
          + "is running";
      case VERSION_MISMATCH -> "the client library and Fabric Manager versions differ; install "
          + "the libnvfm that matches nvidia-fabricmanager";
      case IN_USE -> "the partition, or one of its GPUs, is in an active partition; deactivate "
          + "that partition first";
      case NOT_CONFIGURED -> "Fabric Manager is still initialising, or waits for the list of "
          + "activated partitions after a restart; retry shortly";
      case CONNECTION_NOT_VALID -> "no valid connection to Fabric Manager; check that "
          + "nvidia-fabricmanager runs and listens on the configured address";
      case NVLINK_ERROR -> "NVLink training or programming failed; see fabricmanager.log and "
          + "the NVLink-failed devices";
      case PARTITION_ID_IN_USE -> "the partition is already active";
      case PARTITION_ID_NOT_IN_USE -> "the partition is not active";
      default -> name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ');
    };
  }

  /** The return code with this C value, if it is a known one. */
  public static Optional<FmReturnCode> fromCode(int code) {
    for (FmReturnCode c : values()) {
      if (c.code == code) {
        return Optional.of(c);
      }
    }
    return Optional.empty();
  }

  /** The return code whose shell exit status is {@code status} (239 is PARTITION_ID_IN_USE). */
  public static Optional<FmReturnCode> fromExitStatus(int status) {
    for (FmReturnCode c : values()) {
      if (c.exitStatus() == status) {
        return Optional.of(c);
      }
    }
    return Optional.empty();
  }
}
