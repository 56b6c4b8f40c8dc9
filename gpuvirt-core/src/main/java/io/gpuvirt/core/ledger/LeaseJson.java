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

  /** Leases as a JSON array, in the order given. */
  public static String of(List<Lease> leases) {
    return LedgerCodec.encodeList(leases);
  }
}
