package io.gpuvirt.core.fleet;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

/**
 * HikariCP pools for the concurrency tests and benchmark, as a platform would hand gpuvirt a
 * pooled {@code DataSource} (PostgreSQL forks a process per connection: opening one per
 * transaction would measure the fork). Test scope only: core itself needs no pool.
 */
final class Pools {
  private Pools() {}

  static HikariDataSource hikari(String url, int size) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(size);
    config.setConnectionTimeout(30_000);
    config.setInitializationFailTimeout(-1);
    config.setPoolName("gpuvirt-test");
    return new HikariDataSource(config);
  }
}
