package io.gpuvirt.testkit.clib;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.HostAccessException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One of the testkit's simulated C libraries ({@code SimulatedNvfmLibrary}, {@code SimulatedNvml}):
 * its C source, a resource of this jar, and how gcc builds it. Internal to the testkit: this package
 * is not exported.
 *
 * <p>Each source includes {@value #HEADER}, the one copy of their JSON reader and writer (a
 * resource beside {@code libnvidia-ml-sim.c}). {@link #build} writes the source and the header into
 * the build directory, where gcc finds a quoted {@code #include} next to the file it compiles, and
 * compiles again only when the library is missing or either file there differs from the jar's.
 *
 * @param owner the class whose package holds {@code sourceFile}
 * @param sourceFile the C source's resource name, also its name in a build directory
 * @param libraryFile the built library's file name and SONAME
 * @param name the library as messages name it ("libnvfm")
 * @param linkerFlags gcc flags that go before the SONAME ({@code -Wl,-Bsymbolic}), or none
 */
public record SimulatedLibrarySource(Class<?> owner, String sourceFile, String libraryFile,
    String name, List<String> linkerFlags) {
  /** The file name of the shared header, in the jar and in a build directory. */
  public static final String HEADER = "sim-json.h";

  private static final String HEADER_RESOURCE = "/io/gpuvirt/testkit/" + HEADER;
  /** Builds of every library, into any directory, one at a time: they may share a header. */
  private static final Object BUILD_LOCK = new Object();

  /** Checks every part; the list is copied. */
  public SimulatedLibrarySource {
    Objects.requireNonNull(owner, "owner");
    for (String part : Arrays.asList(sourceFile, libraryFile, name)) {
      if (part == null || part.isBlank()) {
        throw new GpuvirtException("a simulated library needs a source file, a library "
            + "file and a name; got source " + sourceFile + ", library " + libraryFile
            + ", name " + name);
      }
    }
    linkerFlags = List.copyOf(linkerFlags);
  }

  /** The C source. */
  public String source() {
    return resource(owner, sourceFile);
  }

  /** The shared JSON header every simulated library's source includes. */
  public static String header() {
    return resource(SimulatedLibrarySource.class, HEADER_RESOURCE);
  }

  /**
   * Compiles the library into {@code directory} with gcc run through {@code runner}, unless the
   * library there was built from the same source and header.
   *
   * @return the path of the built library
   * @throws GpuvirtException when gcc fails, with its diagnostics
   * @throws HostAccessException when the directory cannot be prepared
   */
  public Path build(CommandRunner runner, Path directory) {
    synchronized (BUILD_LOCK) {
      return buildLocked(runner, directory);
    }
  }

  private Path buildLocked(CommandRunner runner, Path directory) {
    Path src = directory.resolve(sourceFile);
    Path header = directory.resolve(HEADER);
    Path lib = directory.resolve(libraryFile);
    byte[] sourceBytes = source().getBytes(StandardCharsets.UTF_8);
    byte[] headerBytes = header().getBytes(StandardCharsets.UTF_8);
    try {
      Files.createDirectories(directory);
      if (Files.exists(lib) && holds(src, sourceBytes) && holds(header, headerBytes)) {
        return lib;
      }
      // The library goes first: a build cut short leaves no library to pass for up to date.
      Files.deleteIfExists(lib);
      Files.write(src, sourceBytes);
      Files.write(header, headerBytes);
    } catch (IOException e) {
      throw new HostAccessException(directory.toString(), "could not prepare " + directory
          + " for the simulated " + name + ": " + e.getMessage(), e);
    }
    List<String> argv = new ArrayList<>(List.of("gcc", "-std=c11", "-O1", "-Wall", "-Wextra",
        "-Werror", "-fPIC", "-shared", "-fvisibility=hidden"));
    argv.addAll(linkerFlags);
    argv.addAll(List.of("-Wl,-soname," + libraryFile, "-o", lib.toString(), src.toString(),
        "-lpthread"));
    CommandResult r = runner.run(Command.of(argv).withTimeout(Duration.ofMinutes(2)));
    if (!r.succeeded()) {
      throw new GpuvirtException("gcc could not build the simulated " + name + " from " + src
          + " (exit " + r.exitCode() + "): " + r.stderr().strip());
    }
    return lib;
  }

  private static boolean holds(Path file, byte[] expected) throws IOException {
    return Files.isRegularFile(file) && Arrays.equals(Files.readAllBytes(file), expected);
  }

  private static String resource(Class<?> owner, String name) {
    try (InputStream in = owner.getResourceAsStream(name)) {
      if (in == null) {
        throw new GpuvirtException("the testkit resource " + name + " is missing from the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new GpuvirtException("could not read the testkit resource " + name, e);
    }
  }
}
