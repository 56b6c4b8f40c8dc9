package io.gpuvirt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.ledger.LeaseJson;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** The lines README's "Using the modules" shows an integrator, run as written. */
final class GpuHostReadmeTest {
  /** What the README's lines print and leave behind. */
  private record Outcome(String printed, OptionalInt partition, boolean leaseLeft) {}

  private static Outcome readmeLines(HostProfile profile) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    OptionalInt partition;
    boolean leaseLeft;
    // ---- README: begin ----
    try (SimulatedHost simulated = SimulatedHost.create(profile);   // on a GPU server: skip this
        GpuHost host = GpuHost.open(simulated.root())) {            // and open Path.of("/")
      Provisioner provisioner = host.provisioner();
      Provisioned vm = provisioner.provision(AllocationRequest.builder("vm-42").count(2).build());
      out.println(LeaseJson.of(vm.lease()));                         // GPUs, partition, why
      vm.plan().ifPresent(plan -> {                                  // with gpuvirt-qemu present
        plan.describe().forEach(out::println);                       // root ports, aperture, why
        out.println(String.join(" ", plan.argv()));                  // the QEMU command
      });
      provisioner.teardown("vm-42");
      // ---- README: end ----
      partition = vm.lease().partitionId();
      leaseLeft = host.ledger().lease("vm-42").isPresent();
    }
    return new Outcome(bytes.toString(StandardCharsets.UTF_8), partition, leaseLeft);
  }

  @Test
  void readmeLines_hgxB200_provisionAPartitionOfTwoAndTearItDown() {
    Outcome o = readmeLines(HostProfile.hgxB200());
    // B200 table: partitions 4 to 7 are the pairs.
    assertTrue(o.partition().isPresent() && o.partition().getAsInt() >= 4
        && o.partition().getAsInt() <= 7 && !o.leaseLeft() && o.printed().contains("vm-42")
        && o.printed().contains("pcie-root-port") && o.printed().contains("qemu-system-x86_64"),
        o.toString());
  }

  @Test
  void readmeLines_hgxH100_provisionTwoGpusByIommuGroupAndTearThemDown() {
    Outcome o = readmeLines(HostProfile.hgxH100());
    // The simulated HGX H100 runs Fabric Manager in full passthrough (FABRIC_MODE=0): no partition.
    assertEquals(new Outcome(o.printed(), OptionalInt.empty(), false), o);
    assertTrue(o.printed().contains("0000:") && o.printed().contains("vfio-pci,host=0000:"),
        o.printed());
  }
}
