package io.gpuvirt.core.fleet;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.pci.PciId;
import java.util.Collection;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * "{@code count} GPUs for {@code owner}, on any live host matching the constraints": on a
 * shared-NVSwitch host exactly one free partition of {@code count} GPUs, elsewhere {@code count}
 * whole GPUs by NUMA best fit.
 *
 * <pre>{@code
 * FleetRequest.of("vm-42", 4)                       // any 4 GPUs, anywhere
 *     .withModel(PciId.parse("10de:2901"))          // B200s only
 *     .withNumaNode(0)                              // all four on the host's NUMA node 0
 *     .withHosts(List.of("gpu-17", "gpu-18"));      // on one of these hosts
 * }</pre>
 *
 * @param owner who the lease is for (a VM id), as {@link AllocationRequest#checkOwner} allows
 * @param count 1 to 64
 * @param model when present, only GPUs with this vendor:device id
 * @param hosts when not empty, only these hosts (sorted)
 * @param numaNode when present, every GPU of the lease on this NUMA node of its host
 */
public record FleetRequest(String owner, int count, Optional<PciId> model, Set<String> hosts,
    OptionalInt numaNode) {
  public FleetRequest {
    AllocationRequest.checkOwner(owner);
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(numaNode, "numaNode");
    if (count < 1 || count > 64) {
      throw new InvalidValueException("a fleet request asks for 1 to 64 GPUs, not " + count
          + " (owner " + owner + ")");
    }
    TreeSet<String> checked = new TreeSet<>();
    for (String h : Objects.requireNonNull(hosts, "hosts")) {
      checked.add(HostNames.check(h));
    }
    hosts = java.util.Collections.unmodifiableSortedSet(checked);
    if (numaNode.isPresent() && numaNode.getAsInt() < 0) {
      throw new InvalidValueException("a fleet request's NUMA node must be 0 or more, was "
          + numaNode.getAsInt() + " (owner " + owner + ")");
    }
  }

  /** {@code count} GPUs of any model, on any host, for {@code owner}. */
  public static FleetRequest of(String owner, int count) {
    return new FleetRequest(owner, count, Optional.empty(), Set.of(), OptionalInt.empty());
  }

  /** The same request for GPUs of {@code id} only. */
  public FleetRequest withModel(PciId id) {
    return new FleetRequest(owner, count, Optional.of(id), hosts, numaNode);
  }

  /** The same request on one of {@code names} only (at least one). */
  public FleetRequest withHosts(Collection<String> names) {
    if (names.isEmpty()) {
      throw new InvalidValueException("a fleet request limited to hosts needs at least one host"
          + " name (owner " + owner + ")");
    }
    return new FleetRequest(owner, count, model, Set.copyOf(names), numaNode);
  }

  /** The same request with every GPU on NUMA node {@code node} of its host. */
  public FleetRequest withNumaNode(int node) {
    return new FleetRequest(owner, count, model, hosts, OptionalInt.of(node));
  }

  /** The constraints in words, for messages: " of model 10de:2901 on NUMA node 0", or "". */
  String constraints() {
    StringBuilder s = new StringBuilder();
    model.ifPresent(m -> s.append(" of model ").append(m));
    numaNode.ifPresent(n -> s.append(" on NUMA node ").append(n));
    if (!hosts.isEmpty()) {
      s.append(" on ").append(hosts.size() == 1 ? "host " : "one of hosts ")
          .append(String.join(", ", hosts));
    }
    return s.toString();
  }
}
