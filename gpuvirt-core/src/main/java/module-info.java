/**
 * gpuvirt core: the PCI model and topology, the host seams ({@code Sysfs}, {@code CommandRunner}),
 * VFIO binding, host readiness, allocation and the lease ledger, the Fabric Manager port and
 * provisioning.
 */
module io.gpuvirt.core {
  requires com.fasterxml.jackson.databind;
  requires org.apache.commons.exec;
  requires org.slf4j;
  // the native sysfs reader: openat, read, getdents64, readlink, readlinkat and close of libc
  requires com.sun.jna;
  // the JDBC lease store and the fleet: plain java.sql against the platform's DataSource
  requires java.sql;

  exports io.gpuvirt.core;
  exports io.gpuvirt.core.host;
  exports io.gpuvirt.core.pci;
  exports io.gpuvirt.core.fabric;
  exports io.gpuvirt.core.vfio;
  exports io.gpuvirt.core.doctor;
  exports io.gpuvirt.core.alloc;
  exports io.gpuvirt.core.ledger;
  exports io.gpuvirt.core.provision;
  exports io.gpuvirt.core.gpuhost;
  exports io.gpuvirt.core.vgpu;
  exports io.gpuvirt.core.vmplan;
  exports io.gpuvirt.core.mig;
  exports io.gpuvirt.core.fleet;

  // implementations of the ports, found by GpuHost
  uses io.gpuvirt.core.gpuhost.HostProvider;
  uses io.gpuvirt.core.gpuhost.FabricManagerProvider;
  uses io.gpuvirt.core.vmplan.VmPlanner;

  // the ledger file's records are read and written by Jackson
  opens io.gpuvirt.core.ledger to com.fasterxml.jackson.databind;
}
