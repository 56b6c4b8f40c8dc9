package io.gpuvirt.core.fleet.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Assumptions;

/**
 * A real PostgreSQL for the tests: Debian's server binaries ({@code initdb}, {@code pg_ctl} from
 * {@value #BIN}) run a throw-away cluster in {@code target/postgres-PID} on 127.0.0.1 and a free
 * port, as the {@code postgres} user when the tests run as root (PostgreSQL refuses root). One
 * cluster per test JVM, stopped when the JVM exits; each test takes its own schema
 * ({@link #freshSchema}), so tests never see each other's rows. It can be restarted, stopped and
 * started again, and have its connections killed, on purpose.
 *
 * <p>When the binaries are missing or the cluster cannot start, tests using it are skipped; with
 * {@code GPUVIRT_REQUIRE_TOOLS=1} (CI) they fail instead.
 */
public final class TestPostgres {
  static final String BIN = "/usr/lib/postgresql/15/bin";
  private static final AtomicInteger SCHEMAS = new AtomicInteger();
  private static TestPostgres shared;

  private final Path dir;
  private final int port;
  private final boolean asPostgresUser;

  private TestPostgres(Path dir, int port, boolean asPostgresUser) {
    this.dir = dir;
    this.port = port;
    this.asPostgresUser = asPostgresUser;
  }

  /** The JVM's cluster, started on first use; a skip (a failure under CI) when it cannot be. */
  public static synchronized TestPostgres require() {
    if (shared == null) {
      try {
        shared = startCluster();
      } catch (IOException | RuntimeException e) {
        String why = "cannot start a PostgreSQL cluster from " + BIN + " (" + e.getMessage() + ")";
        if ("1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS"))) {
          fail(why + " and GPUVIRT_REQUIRE_TOOLS=1; install postgresql (Debian's postgresql-15)",
              e);
        }
        Assumptions.abort(why + "; skipping (set GPUVIRT_REQUIRE_TOOLS=1 to make this a failure)");
      }
      TestPostgres cluster = shared;
      Runtime.getRuntime().addShutdownHook(new Thread(cluster::destroy));
    }
    return shared;
  }

  private static TestPostgres startCluster() throws IOException {
    if (!Files.isExecutable(Path.of(BIN, "initdb"))) {
      throw new IOException(BIN + "/initdb is not installed");
    }
    boolean root = "root".equals(System.getProperty("user.name"));
    Path dir = Path.of("target", "postgres-" + ProcessHandle.current().pid()).toAbsolutePath();
    deleteTree(dir);
    Files.createDirectories(dir);
    if (root) {
      UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
      PosixFileAttributeView view = Files.getFileAttributeView(dir, PosixFileAttributeView.class);
      view.setOwner(users.lookupPrincipalByName("postgres"));
      GroupPrincipal group = users.lookupPrincipalByGroupName("postgres");
      view.setGroup(group);
    }
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    TestPostgres pg = new TestPostgres(dir, port, root);
    pg.exec(List.of(BIN + "/initdb", "-D", dir.resolve("data").toString(), "-A", "trust", "-U",
        "gpuvirt", "-E", "UTF8", "--no-sync"));
    pg.start();
    return pg;
  }

  /** Starts the (stopped) cluster and waits until it accepts connections. */
  public void start() {
    exec(List.of(BIN + "/pg_ctl", "-D", dir.resolve("data").toString(), "-l",
        dir.resolve("server.log").toString(), "-w", "-t", "60", "-o",
        "-h 127.0.0.1 -p " + port + " -k " + dir + " -c max_connections=300"
            + " -c shared_buffers=256MB -c synchronous_commit=on -c fsync=on", "start"));
  }

  /** Stops the cluster at once, as a crash would (immediate: no checkpoint, clients cut off). */
  public void stop() {
    exec(List.of(BIN + "/pg_ctl", "-D", dir.resolve("data").toString(), "-m", "immediate",
        "-w", "stop"));
  }

  /** {@code pg_ctl restart} (fast: running transactions are rolled back, clients cut off). */
  public void restart() {
    exec(List.of(BIN + "/pg_ctl", "-D", dir.resolve("data").toString(), "-m", "fast", "-w",
        "-t", "60", "restart"));
  }

  /**
   * Kills, with {@code pg_terminate_backend}, every other client connection to the cluster.
   *
   * @return how many were killed
   */
  public int terminateBackends() {
    try (Connection c = admin().getConnection(); Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
            + "FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            + "AND backend_type = 'client backend'")) {
      r.next();
      return r.getInt(1);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot terminate backends: " + e, e);
    }
  }

  /** The JDBC URL of the cluster's database, with {@code schema} first on the search path. */
  public String url(String schema) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=gpuvirt&currentSchema="
        + schema;
  }

  /** A new, empty schema, and a data source whose connections use it. */
  public UrlDataSource freshSchema() {
    String schema = "t" + ProcessHandle.current().pid() + "_" + SCHEMAS.incrementAndGet();
    try (Connection c = admin().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA " + schema);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create schema " + schema + ": " + e, e);
    }
    return dataSource(schema);
  }

  /** A data source on {@code schema} (which must exist). */
  public UrlDataSource dataSource(String schema) {
    return new UrlDataSource(url(schema) + "&connectTimeout=10&socketTimeout=60");
  }

  private DataSource admin() {
    return new UrlDataSource("jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=gpuvirt");
  }

  private void destroy() {
    try {
      exec(List.of(BIN + "/pg_ctl", "-D", dir.resolve("data").toString(), "-m", "immediate",
          "-w", "stop"));
    } catch (RuntimeException ignored) {
      // already stopped
    }
    try {
      deleteTree(dir);
    } catch (IOException ignored) {
      // left in target/, removed by the next run or mvn clean
    }
  }

  private void exec(List<String> argv) {
    List<String> command = new ArrayList<>();
    if (asPostgresUser) {
      command.addAll(List.of("/usr/sbin/runuser", "-u", "postgres", "--"));
    }
    command.addAll(argv);
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(dir.resolve("pg_ctl.out").toFile()).start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " did not finish in 120 s");
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " exited " + p.exitValue()
            + ": " + Files.readString(dir.resolve("pg_ctl.out")).trim());
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + command.get(0) + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running " + command, e);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
