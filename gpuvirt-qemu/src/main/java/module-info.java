/**
 * gpuvirt qemu: QEMU version and capability probing, the command builder that turns a lease into a
 * QEMU argv, and the QMP client.
 */
module io.gpuvirt.qemu {
  requires transitive io.gpuvirt.core;
  requires transitive com.fasterxml.jackson.databind;
  requires org.slf4j;
  requires java.xml;

  exports io.gpuvirt.qemu;
  exports io.gpuvirt.qemu.command;
  exports io.gpuvirt.qemu.qmp;
  exports io.gpuvirt.qemu.libvirt;
  exports io.gpuvirt.qemu.vgpu;

  // the VM-planner port's implementation, found by GpuHost
  provides io.gpuvirt.core.vmplan.VmPlanner with io.gpuvirt.qemu.command.QemuVmPlanner;
}
