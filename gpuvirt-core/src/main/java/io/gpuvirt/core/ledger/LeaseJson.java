package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.Lease;
import java.util.List;

/** Leases as JSON, in the record form of the ledger file (for {@code --json} output and APIs). */
public final class LeaseJson {
  private LeaseJson() {}

  /** One lease as a JSON object. */
  public static String of(Lease lease) {
    return LedgerCodec.encode(lease);
  }

  /**
   * The lease {@link #of(Lease)} wrote, read back strictly (a store that keeps leases as text, such
   * as the JDBC store, reads them this way).
   *
   * @throws io.gpuvirt.core.InvalidValueException when the text is not a valid lease record
   */
  public static Lease parse(String json) {
    return LedgerCodec.decodeLease(json);
  }

  /** Leases as a JSON array, in the order given. */
  public static String of(List<Lease> leases) {
    return LedgerCodec.encodeList(leases);
  }
}
