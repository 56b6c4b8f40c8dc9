package io.gpuvirt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.fleet.Fleet;
import io.gpuvirt.core.fleet.testing.TestPostgres;
import io.gpuvirt.core.fleet.testing.UrlDataSource;
import io.gpuvirt.core.host.CommandResult;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The fleet example runs as a user runs it, against a real PostgreSQL, and leaves no lease. */
final class FleetExampleTest {
  @Test
  void fleetOfSimulatedHosts_main_provisionsEveryLeaseAndGivesItBack() {
    UrlDataSource db = TestPostgres.require().freshSchema();

    CommandResult r = ExampleMains.run(FleetOfSimulatedHosts.class, db.url());

    assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
    assertTrue(r.stdout().contains("Every lease was provisioned on its host and given back."),
        r.stdout());
    assertEquals(List.of(), Fleet.open(db).leases());
  }

  @Test
  void fleetOfSimulatedHosts_runTwiceOnOneDatabase_bothSucceed() {
    UrlDataSource db = TestPostgres.require().freshSchema();

    boolean first = FleetOfSimulatedHosts.run(db, System.out);
    boolean second = FleetOfSimulatedHosts.run(db, System.out);

    assertTrue(first && second);
  }
}
