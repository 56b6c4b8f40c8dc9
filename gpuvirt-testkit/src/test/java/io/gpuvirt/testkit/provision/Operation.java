package io.gpuvirt.testkit.provision;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.RecoveryReport;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.GroupRefusedException;
import java.util.Arrays;
import java.util.List;

/**
 * One provisioner operation written as a line of text, so that this JVM and a child JVM
 * ({@link ProvisionWorker}'s {@code serve}) run it the same way and report it the same way:
 *
 * <ul>
 *   <li>{@code provision OWNER COUNT}
 *   <li>{@code teardown OWNER}
 *   <li>{@code bind OWNER reset|noreset ADDR[,ADDR...]}
 *   <li>{@code restore ADDR[,ADDR...]}
 *   <li>{@code recover}
 * </ul>
 *
 * The outcome is one line: {@code OK ...}, {@code REFUSED <exception>: <message>} for the refusals
 * a caller is promised (no capacity, a device held by another owner or in use outside gpuvirt, a
 * guard rail) or {@code ERROR <exception>: <message>} for anything else.
 */
final class Operation {
  static final String OK = "OK";
  static final String REFUSED = "REFUSED";
  static final String ERROR = "ERROR";

  private Operation() {}

  static String provision(String owner, int count) {
    return "provision " + owner + " " + count;
  }

  static String teardown(String owner) {
    return "teardown " + owner;
  }

  static String bind(String owner, boolean reset, List<PciAddress> devices) {
    return "bind " + owner + " " + (reset ? "reset" : "noreset") + " " + join(devices);
  }

  static String restore(List<PciAddress> devices) {
    return "restore " + join(devices);
  }

  static String recover() {
    return "recover";
  }

  /** Runs {@code command} with {@code provisioner}; never throws for the operation's outcome. */
  static String run(Provisioner provisioner, String command) {
    String[] w = command.split(" ");
    try {
      return OK + " " + switch (w[0]) {
        case "provision" -> describe(provisioner.provision(
            AllocationRequest.builder(w[1]).count(Integer.parseInt(w[2])).build()));
        case "teardown" -> "held a lease: " + provisioner.teardown(w[1]);
        case "bind" -> describe(provisioner.bind(w[1], bindRequest(w[2], w[3])));
        case "restore" -> "ended " + provisioner.restore(addresses(w[1])).stream()
            .map(Lease::owner).toList();
        case "recover" -> recovered(provisioner.recover());
        default -> throw new IllegalArgumentException("unknown operation " + command);
      };
    } catch (AllocationRefusedException | GroupRefusedException e) {
      return REFUSED + " " + oneLine(e);
    } catch (RuntimeException e) {
      return ERROR + " " + oneLine(e);
    }
  }

  static BindRequest bindRequest(String reset, String devices) {
    return BindRequest.builder().devices(addresses(devices)).driver(BindRequest.VFIO_PCI)
        .resetBeforeBind(reset.equals("reset")).build();
  }

  static List<PciAddress> addresses(String list) {
    return Arrays.stream(list.split(",")).map(PciAddress::parse).toList();
  }

  private static String join(List<PciAddress> devices) {
    return String.join(",", devices.stream().map(PciAddress::toString).toList());
  }

  private static String describe(Provisioned p) {
    Lease l = p.lease();
    return l.owner() + " " + l.origin() + " " + l.state() + " groups " + l.groupNumbers()
        + l.partitionId().stream().mapToObj(id -> " partition " + id).findFirst().orElse("");
  }

  private static String recovered(RecoveryReport report) {
    if (!report.clean()) {
      throw new IllegalStateException("recovery failed: " + report.failures());
    }
    return "recovered " + report.actions();
  }

  private static String oneLine(RuntimeException e) {
    StringBuilder b = new StringBuilder(e.getClass().getSimpleName() + ": " + e.getMessage());
    for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
      b.append(" / caused by ").append(c.getClass().getSimpleName()).append(": ")
          .append(c.getMessage());
    }
    return b.toString().replace('\n', ' ').replace('\r', ' ');
  }
}
