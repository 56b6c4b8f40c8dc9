/**
 * gpuvirt for a fleet: leases and GPU inventory in a database the platform already runs
 * (PostgreSQL), reached through plain {@code java.sql} and a {@link javax.sql.DataSource} the
 * platform hands in. Core has no JDBC driver dependency; the platform brings its driver and pool.
 *
 * <ul>
 *   <li>{@link io.gpuvirt.core.fleet.JdbcSchema}: the schema, versioned SQL files shipped in this
 *       jar under {@code db/gpuvirt/} (Flyway's naming, so Flyway can apply them instead), applied
 *       on request, and the check that refuses a schema newer than this gpuvirt.
 *   <li>{@link io.gpuvirt.core.fleet.JdbcLeaseStore}: the JDBC implementation of the lease-store
 *       port ({@link io.gpuvirt.core.ledger.LeaseStore}), one host's leases as rows; a
 *       {@link io.gpuvirt.core.ledger.LeaseLedger} runs on it unchanged.
 *   <li>{@link io.gpuvirt.core.fleet.Fleet}: inventory (hosts publish GPUs and partitions),
 *       heartbeats, allocation across hosts in one compare-and-set transaction, release, and the
 *       epoch fence the host agent presents.
 * </ul>
 *
 * <p>A separate package because it is a separate concern: the ledger package keeps the rules for
 * one host and the port; this package is the database side, which only a platform running a
 * fleet uses.
 */
package io.gpuvirt.core.fleet;
