package io.gpuvirt.core.ledger;

import io.gpuvirt.core.GpuvirtException;
import java.nio.file.Path;

/**
 * The lease ledger could not be read, locked or written. The message names the file, the step and
 * the fix; an I/O error is kept as the cause. The ledger on disk is unchanged.
 */
public class LedgerException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final transient Path path;

  public LedgerException(Path path, String message) {
    super(message);
    this.path = path;
  }

  public LedgerException(Path path, String message, Throwable cause) {
    super(message, cause);
    this.path = path;
  }

  /** The file or directory concerned. */
  public Path path() {
    return path;
  }
}
