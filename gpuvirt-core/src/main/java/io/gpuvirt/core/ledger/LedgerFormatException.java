package io.gpuvirt.core.ledger;

import java.nio.file.Path;

/**
 * The ledger file is corrupt, inconsistent, or written by a newer gpuvirt. gpuvirt never resets a
 * ledger it cannot read: the leases in it may be all that stops two VMs from getting one GPU. Fix
 * the file, restore it, or upgrade gpuvirt, as the message says.
 */
public final class LedgerFormatException extends LedgerException {
  private static final long serialVersionUID = 1L;

  public LedgerFormatException(Path path, String message) {
    super(path, message);
  }

  public LedgerFormatException(Path path, String message, Throwable cause) {
    super(path, message, cause);
  }
}
