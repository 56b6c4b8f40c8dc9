package io.gpuvirt.core.doctor;

/** How much a finding matters. Only {@link #ERROR} makes a host not ready. */
public enum Severity {
  /** Ready in this respect; the evidence says why. */
  OK,
  /** Worth knowing, nothing to do. */
  INFO,
  /** Works now, but will break or perform badly (for example after a reboot). */
  WARNING,
  /** Passthrough cannot work until this is fixed. */
  ERROR
}
