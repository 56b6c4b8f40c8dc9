package io.gpuvirt.testkit.fabric;

/** Where a simulated Fabric Manager is in its life. */
public enum FabricPhase {
  /** Running and answering. */
  RUNNING,
  /** Started but still initialising: every call but connect is refused with NOT_CONFIGURED. */
  STARTING,
  /**
   * Started in restart (resiliency) mode: every call but set-activated is refused with
   * NOT_CONFIGURED until the hypervisor lists the active partitions; after the deadline it exits.
   */
  AWAITING_ACTIVATED_LIST,
  /** Not running: connections are refused with CONNECTION_NOT_VALID. */
  STOPPED
}
