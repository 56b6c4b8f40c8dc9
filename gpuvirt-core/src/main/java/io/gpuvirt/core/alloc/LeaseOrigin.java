package io.gpuvirt.core.alloc;

/**
 * Which operation made a lease. Both kinds hold devices under the same rules (one owner per
 * device, exact restore); the origin says which operation gives them back.
 */
public enum LeaseOrigin {
  /** Made by provisioning for a VM ({@code Provisioner.provision}); ended by teardown. */
  PROVISION,
  /**
   * Made by a manual binding ({@code Provisioner.bind}, {@code gpuvirt bind}); ended by
   * {@code Provisioner.restore} ({@code gpuvirt bind --restore}) or teardown.
   */
  BIND
}
