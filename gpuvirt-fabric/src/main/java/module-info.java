/**
 * gpuvirt fabric: adapters to NVIDIA Fabric Manager (libnvfm through JNA, the fmpm CLI),
 * {@code fabricmanager.cfg}, GPU module-id discovery, and mig-parted's MIG config YAML.
 */
module io.gpuvirt.fabric {
  requires transitive io.gpuvirt.core;
  requires com.sun.jna;
  requires com.fasterxml.jackson.databind;
  requires com.fasterxml.jackson.dataformat.yaml;
  requires org.slf4j;

  exports io.gpuvirt.fabric;
  exports io.gpuvirt.fabric.nvfm;
  exports io.gpuvirt.fabric.fmpm;
  exports io.gpuvirt.fabric.moduleid;
  exports io.gpuvirt.fabric.mig;

  provides io.gpuvirt.core.gpuhost.FabricManagerProvider
      with io.gpuvirt.fabric.provider.HostFabricManagerProvider;

  // JNA reads and writes the libnvfm and NVML structs reflectively.
  opens io.gpuvirt.fabric.nvfm to com.sun.jna;
  opens io.gpuvirt.fabric.moduleid to com.sun.jna;
  opens io.gpuvirt.fabric.mig to com.sun.jna;
  opens io.gpuvirt.fabric.nvml to com.sun.jna;
}
