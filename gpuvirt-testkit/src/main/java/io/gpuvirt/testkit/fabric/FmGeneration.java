package io.gpuvirt.testkit.fabric;

/**
 * Which Fabric Manager release line the simulation answers like. They differ in the connect
 * parameters they accept and the codes for "already active" and "already inactive".
 */
public enum FmGeneration {
  /**
   * 535-series headers: connect parameters v1 only (v2 is refused with VERSION_MISMATCH), codes
   * down to -10; activating an active partition gives IN_USE, deactivating an inactive one
   * UNINITIALIZED.
   */
  R535,
  /**
   * 610-series headers (and the drivers ubicloud runs on B200): connect parameters v2 and v1, codes
   * down to -29; PARTITION_ID_IN_USE (fmpm exit 239) and PARTITION_ID_NOT_IN_USE (exit 238).
   */
  R610
}
