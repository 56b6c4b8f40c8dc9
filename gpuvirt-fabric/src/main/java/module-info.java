/**
 * gpuvirt fabric: adapters to NVIDIA Fabric Manager (libnvfm through JNA, the fmpm CLI),
 * {@code fabricmanager.cfg}, and GPU module-id discovery.
 */
module io.gpuvirt.fabric {
  requires transitive io.gpuvirt.core;
  requires com.sun.jna;
  requires com.fasterxml.jackson.databind;
  requires com.google.common;
  requires org.slf4j;

  // exports io.gpuvirt.fabric;  (uncomment with the first class)
}
