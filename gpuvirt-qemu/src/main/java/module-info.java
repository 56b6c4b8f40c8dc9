/**
 * gpuvirt qemu: QEMU version and capability probing, the command builder that turns a lease into a
 * QEMU argv, and the QMP client.
 */
module io.gpuvirt.qemu {
  requires transitive io.gpuvirt.core;
  requires com.fasterxml.jackson.databind;
  requires com.google.common;
  requires org.slf4j;

  // exports io.gpuvirt.qemu;  (uncomment with the first class)
}
