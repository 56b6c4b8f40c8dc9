package io.gpuvirt.testkit.provision;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.testkit.Fault;
import io.gpuvirt.testkit.fabric.FabricFault;
import io.gpuvirt.testkit.fabric.FabricOperation;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.random.RandomGenerator;

/**
 * A fault injected at the moment a step of provisioning or teardown starts (see
 * {@link FaultAtStep}): a testkit {@link Fault} on the kernel model, a {@link FabricFault} on the
 * simulated Fabric Manager, or a ledger that cannot be written for the length of the step.
 *
 * @param step the step it hits
 * @param name what it is, for messages
 * @param injection installs it; empty when it does not apply to this lease (no such device)
 */
record StepFault(ProvisionStep step, String name, Injection injection) {

  /** Installs a fault for a step that has just started. */
  @FunctionalInterface
  interface Injection {
    /** Installs the fault; returns what lifts it when the step has failed, or empty if n/a. */
    Optional<Runnable> inject(Target target);
  }

  /** Where the step runs: the site, the STARTED event, the owner's lease if any, a random source. */
  record Target(SimulatedSite site, ProgressEvent started, Optional<Lease> lease,
      RandomGenerator random) {
    /** A random device of the lease matching {@code filter}. */
    Optional<LeasedDevice> device(Predicate<LeasedDevice> filter) {
      List<LeasedDevice> matching = lease.orElseThrow().passedThroughDevices().stream()
          .filter(filter).toList();
      return matching.isEmpty() ? Optional.empty()
          : Optional.of(matching.get(random.nextInt(matching.size())));
    }
  }

  @Override
  public String toString() {
    return name + " at " + step;
  }

  private static final Runnable NOTHING = () -> { };

  // ---- kernel model faults -----------------------------------------------------------------------

  static StepFault kernel(ProvisionStep step, String name,
      java.util.function.Function<Target, Optional<Fault>> fault) {
    return new StepFault(step, name, t -> fault.apply(t).map(f -> {
      t.site().host().inject(f);
      return NOTHING;
    }));
  }

  /** A device gpuvirt moves (or moved) to vfio-pci. */
  static boolean moved(LeasedDevice d) {
    return !d.originalDriver().equals(Optional.of(SimulatedSite.VFIO));
  }

  /** A device gpuvirt moves to vfio-pci from a driver (so it is unbound and later probed back). */
  static boolean movedFromDriver(LeasedDevice d) {
    return moved(d) && d.originalDriver().isPresent();
  }

  static StepFault unbindBusy(ProvisionStep step) {
    return kernel(step, "unbind busy", t -> t.device(StepFault::movedFromDriver)
        .map(d -> Fault.unbindBusy(d.address())));
  }

  static StepFault unbindBusyOnVfio(ProvisionStep step) {
    return kernel(step, "unbind busy", t -> t.device(StepFault::moved)
        .map(d -> Fault.unbindBusy(d.address())));
  }

  static StepFault probeFails(ProvisionStep step, Predicate<LeasedDevice> which) {
    return kernel(step, "probe fails", t -> t.device(which).map(d -> Fault.probeFails(d.address())));
  }

  static StepFault overrideWriteFails(ProvisionStep step, Predicate<LeasedDevice> needs) {
    return kernel(step, "driver_override write fails", t -> t.device(needs)
        .map(d -> Fault.writeFails(d.address().sysfsPath("driver_override"))));
  }

  static StepFault probeWriteFails(ProvisionStep step, Predicate<LeasedDevice> needs) {
    return kernel(step, "drivers_probe write fails", t -> t.device(needs)
        .map(d -> Fault.writeFails("/sys/bus/pci/drivers_probe")));
  }

  static StepFault resetFails() {
    return kernel(ProvisionStep.RESET, "reset fails",
        t -> t.started().device().map(Fault::resetFails));
  }

  /** The scan of the host fails: a device's {@code vendor} cannot be read. */
  static StepFault scanFails(ProvisionStep step) {
    return kernel(step, "vendor read fails", t -> {
      List<PciAddress> devices = t.lease().isPresent()
          ? t.lease().get().requestedDevices().stream().map(LeasedDevice::address).toList()
          : t.site().host().profile().gpus().stream().map(g -> g.address()).toList();
      return devices.isEmpty() ? Optional.empty() : Optional.of(Fault.readFails(
          devices.get(t.random().nextInt(devices.size())).sysfsPath("vendor")));
    });
  }

  /** Something else (a crashed driver, another tool) unbinds a device from vfio-pci meanwhile. */
  static StepFault deviceLeavesVfio(ProvisionStep step) {
    return new StepFault(step, "device unbound from vfio-pci by another tool",
        t -> t.device(StepFault::moved).map(d -> {
          // through the device's own driver link: vfio-pci, or a VFIO variant driver on Grace
          t.site().host().sysfs().write(d.address().sysfsPath("driver") + "/unbind",
              d.address().toString());
          return NOTHING;
        }));
  }

  // ---- Fabric Manager faults ---------------------------------------------------------------------

  static StepFault fabric(ProvisionStep step, FabricFault fault) {
    return new StepFault(step, fault.operation() + " " + fault.kind() + " " + fault.returnCode(),
        t -> {
          t.site().fabric().inject(fault);
          return Optional.of(NOTHING);
        });
  }

  static StepFault fabricFails(ProvisionStep step, FabricOperation op, FmReturnCode code) {
    return fabric(step, FabricFault.fail(op, code));
  }

  static StepFault fabricHangs(ProvisionStep step, FabricOperation op) {
    return fabric(step, FabricFault.hang(op));
  }

  // ---- ledger faults -----------------------------------------------------------------------------

  /**
   * The ledger cannot be written while the step runs, and can again once the step has failed: the
   * journal is folded into the snapshot first (which changes no lease), so the next commit must
   * start a new journal or write a snapshot, and the temporary files both are written through are
   * taken by directories.
   */
  static StepFault ledgerWriteFails(ProvisionStep step) {
    return new StepFault(step, "ledger write fails", t -> {
      t.site().ledger().compact();
      Path state = t.site().ledger().stateDirectory();
      List<Path> blockers = List.of(state.resolve("leases.json.tmp"),
          state.resolve("leases.journal.tmp"));
      try {
        for (Path blocker : blockers) {
          Files.createDirectories(blocker.resolve("blocked"));
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return Optional.of(() -> {
        try {
          for (Path blocker : blockers) {
            Files.delete(blocker.resolve("blocked"));
            Files.delete(blocker);
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    });
  }
}
