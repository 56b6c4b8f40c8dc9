package io.gpuvirt.qemu.command;

import java.util.Objects;
import java.util.Optional;

/**
 * One entry of a command plan: what the builder chose, for what, why, and what it costs.
 *
 * @param topic the area of the decision
 * @param subject what it applies to: {@code vm}, a root port id, a host BDF, a list of them
 * @param choice what was emitted (or left out), in QEMU terms: {@code x-no-mmap=true}
 * @param reason why, in a sentence an operator can check
 * @param cost what the choice gives up, when it gives up anything
 * @param warning whether the operator should act: a needed property the binary lacks, a limit
 *     that is close
 */
public record Decision(Topic topic, String subject, String choice, String reason,
    Optional<String> cost, boolean warning) {

  /** The area a decision belongs to. */
  public enum Topic {
    /** The machine type. */
    MACHINE,
    /** The accelerator. */
    ACCELERATOR,
    /** The CPU model and its physical address width. */
    CPU,
    /** Guest memory. */
    MEMORY,
    /** Virtual CPUs. */
    CPUS,
    /** The UEFI firmware and its variable store. */
    FIRMWARE,
    /** The boot disk. */
    DISK,
    /** Root ports: how many, where, hotplug. */
    ROOT_PORT,
    /** Guest NUMA nodes and the expander buses that tie devices to them. */
    NUMA,
    /** How the devices reach QEMU: legacy VFIO groups or iommufd. */
    VFIO,
    /** A passed-through device and where it sits. */
    DEVICE,
    /** BAR mmap for large-BAR devices ({@code x-no-mmap}). */
    LARGE_BAR,
    /** Option ROM BARs ({@code rombar}). */
    ROM_BAR,
    /** The firmware's 64-bit MMIO aperture. */
    APERTURE,
    /** The GPUDirect P2P clique. */
    CLIQUE
  }

  public Decision {
    Objects.requireNonNull(topic, "topic");
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(choice, "choice");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(cost, "cost");
  }

  static Decision of(Topic topic, String subject, String choice, String reason) {
    return new Decision(topic, subject, choice, reason, Optional.empty(), false);
  }

  Decision withCost(String text) {
    return new Decision(topic, subject, choice, reason, Optional.of(text), warning);
  }

  Decision asWarning() {
    return new Decision(topic, subject, choice, reason, cost, true);
  }

  /** {@code LARGE_BAR vm: x-no-mmap=true -- reason [cost: ...]}. */
  @Override
  public String toString() {
    return (warning ? "WARNING " : "") + topic + " " + subject + ": " + choice + " -- " + reason
        + cost.map(c -> " [cost: " + c + "]").orElse("");
  }
}
