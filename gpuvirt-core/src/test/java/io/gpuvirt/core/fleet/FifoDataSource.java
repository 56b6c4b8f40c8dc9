package io.gpuvirt.core.fleet;

import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.concurrent.Semaphore;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A first-come-first-served gate in front of a pool of {@code size} connections, for the
 * benchmark: a caller waits for a fair permit, then takes a connection (always free: there are as
 * many as permits); closing the connection returns it, then the permit. HikariCP alone hands a
 * connection back to the thread that just returned it when no waiter is polling at that instant,
 * so with more callers than connections some callers wait many turns: the median is low and the
 * tail long. The gate is the waiting room's order, not a cache: the statement caches stay those of
 * the pool's connections.
 */
final class FifoDataSource implements DataSource {
  private final DataSource pool;
  private final Semaphore permits;

  FifoDataSource(DataSource pool, int size) {
    this.pool = pool;
    this.permits = new Semaphore(size, true);
  }

  @Override
  public Connection getConnection() throws SQLException {
    try {
      permits.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SQLException("interrupted waiting for a connection", e);
    }
    Connection c;
    try {
      c = pool.getConnection();
    } catch (SQLException | RuntimeException e) {
      permits.release();
      throw e;
    }
    boolean[] closed = new boolean[1];
    return (Connection) Proxy.newProxyInstance(FifoDataSource.class.getClassLoader(),
        new Class<?>[] {Connection.class}, (proxy, method, args) -> {
          if (method.getName().equals("close") && method.getParameterCount() == 0) {
            if (!closed[0]) {
              closed[0] = true;
              try {
                c.close();
              } finally {
                permits.release();
              }
            }
            return null;
          }
          try {
            return method.invoke(c, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  @Override
  public Connection getConnection(String user, String password) throws SQLException {
    throw new SQLFeatureNotSupportedException("the benchmark's pool has its own credentials");
  }

  @Override
  public PrintWriter getLogWriter() {
    return null;
  }

  @Override
  public void setLogWriter(PrintWriter out) {}

  @Override
  public void setLoginTimeout(int seconds) {}

  @Override
  public int getLoginTimeout() {
    return 0;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException();
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    return pool.unwrap(iface);
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) throws SQLException {
    return pool.isWrapperFor(iface);
  }
}
