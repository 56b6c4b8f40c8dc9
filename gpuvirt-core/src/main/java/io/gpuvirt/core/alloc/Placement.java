package io.gpuvirt.core.alloc;

/**
 * Where the devices of one request should sit relative to each other. Every mode is deterministic:
 * the same host state and request give the same choice.
 */
public enum Placement {
  /**
   * The default. Best fit by NUMA node: the node with the fewest free devices that can still hold
   * the whole request, then within it the tightest set of PCIe switches (again best fit, so whole
   * switches stay free for larger requests). Spills across NUMA nodes only when no node can hold
   * the request, and the lease says so.
   */
  SAME_NUMA_NODE,
  /**
   * Prefer one PCIe switch (or root port) that holds the whole request, the one with the fewest free
   * devices, on any NUMA node; when no switch can, behave as {@link #SAME_NUMA_NODE}. For
   * peer-to-peer heavy guests.
   */
  SAME_PCIE_SWITCH,
  /**
   * Spread over as many NUMA nodes, root buses and switches as possible, evenly, for host-link
   * bandwidth rather than peer-to-peer locality.
   */
  SPREAD
}
