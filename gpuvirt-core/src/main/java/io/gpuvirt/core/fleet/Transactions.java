package io.gpuvirt.core.fleet;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Set;
import javax.sql.DataSource;

/**
 * One database transaction, retried when it failed for a reason that goes away:
 * a lost connection (the database restarted, {@code pg_terminate_backend}), a deadlock or
 * serialization failure, a statement timeout. Every transaction gpuvirt runs is safe to run again:
 * it either committed nothing, or committed and its rerun finds what it made (idempotent by owner).
 *
 * <p>The transactions are written for PostgreSQL's default isolation, READ COMMITTED: row locks
 * ({@code FOR UPDATE [SKIP LOCKED]}) and compare-and-set updates whose row counts are checked
 * make them correct there, and at any stronger level too (where a concurrent change is a
 * serialization failure, which is retried). So the connection's isolation level is left as the
 * platform's pool set it: setting it per transaction would cost a round trip each time.
 */
final class Transactions {
  /** SQLSTATE classes and codes after which the whole transaction is run again. */
  private static final Set<String> RETRIED = Set.of("40001", "40P01", "55P03", "57014", "57P01",
      "57P02", "57P03", "53300", "25006");
  static final int ATTEMPTS = 40;
  private static final long FIRST_PAUSE_MS = 5;
  private static final long LONGEST_PAUSE_MS = 1_000;

  private Transactions() {}

  interface Work<T> {
    T run(Connection connection) throws SQLException;
  }

  /** Raised inside a transaction to roll it back and run it again (a compare-and-set lost). */
  static final class Conflict extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Conflict(String what) {
      super(what, null, false, false);
    }
  }

  static boolean transient_(SQLException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s && s.getSQLState() != null
          && (s.getSQLState().startsWith("08") || RETRIED.contains(s.getSQLState()))) {
        return true;
      }
      if (t instanceof java.sql.SQLTransientException
          || t instanceof java.sql.SQLRecoverableException) {
        return true;
      }
    }
    return false;
  }

  /**
   * Runs {@code work} in a transaction and commits it, retrying as the class says.
   *
   * @param what the operation in words, for the message when it fails ("allocating for vm-42")
   * @throws FleetException when the database keeps failing, or refuses for a lasting reason
   */
  static <T> T run(DataSource dataSource, String what, Work<T> work) {
    return run(dataSource, what, false, work);
  }

  /**
   * Runs {@code work}, one statement, in autocommit mode (the statement is its own transaction:
   * no BEGIN, no COMMIT round trip), retrying as {@link #run(DataSource, String, Work)} does.
   * The statement must be atomic by itself (a single SQL statement or a function call).
   */
  static <T> T single(DataSource dataSource, String what, Work<T> work) {
    return run(dataSource, what, true, work);
  }

  private static <T> T run(DataSource dataSource, String what, boolean autocommit,
      Work<T> work) {
    long pause = FIRST_PAUSE_MS;
    SQLException last = null;
    String lastConflict = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try (Connection c = dataSource.getConnection()) {
        try {
          c.setAutoCommit(autocommit);
          T result = work.run(c);
          if (!autocommit) {
            c.commit();
          }
          return result;
        } catch (SQLException | RuntimeException e) {
          rollback(c);
          throw e;
        }
      } catch (Conflict e) {
        lastConflict = e.getMessage();
      } catch (SQLException e) {
        if (!transient_(e)) {
          throw new FleetException(what + " failed: " + e.getMessage() + " (SQLSTATE "
              + e.getSQLState() + "); nothing of it was stored", e);
        }
        last = e;
      }
      sleep(pause + java.util.concurrent.ThreadLocalRandom.current().nextLong(pause + 1));
      pause = Math.min(LONGEST_PAUSE_MS, pause * 2);
    }
    if (last == null) {
      throw new FleetException(what + " lost " + ATTEMPTS + " compare-and-set races in a row ("
          + lastConflict + "); nothing of it was stored; retry later or spread the requests");
    }
    throw new FleetException(what + " failed " + ATTEMPTS + " times: " + last.getMessage()
        + " (SQLSTATE " + last.getSQLState() + "); nothing of it was stored. Check that the "
        + "database is up and reachable, then retry", last);
  }

  private static void rollback(Connection c) {
    try {
      c.rollback();
    } catch (SQLException ignored) {
      // the connection is gone: the server rolled the transaction back itself
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FleetException("interrupted while waiting to retry a database transaction");
    }
  }
}
