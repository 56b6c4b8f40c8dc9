package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.testkit.fabric.SimulatedNvfmLibrary;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The two simulated C libraries (libnvfm, libnvidia-ml) share one JSON header, sim-json.h: each
 * build writes it beside its source, and a changed or missing header is compiled again.
 */
class SimulatedLibraryBuildTest {
  private static final String HEADER = "sim-json.h";
  private static final Pattern STATIC_FUNCTION =
      Pattern.compile("(?m)^static [^;=(]*?\\b(\\w+)\\(");

  @TempDir Path dir;

  /** One library as a test drives it: its source, its file names and its build. */
  private record Library(String sourceFile, String libraryFile, Supplier<String> source,
      BiFunction<CommandRunner, Path, Path> build) {}

  private static Library library(String which) {
    return switch (which) {
      case "nvfm" -> new Library("libnvfm-sim.c", SimulatedNvfmLibrary.LIBRARY_FILE,
          SimulatedNvfmLibrary::source, SimulatedNvfmLibrary::build);
      case "nvml" -> new Library("libnvidia-ml-sim.c", SimulatedNvml.LIBRARY_FILE,
          SimulatedNvml::source, SimulatedNvml::build);
      default -> throw new IllegalArgumentException(which);
    };
  }

  private static String header() throws IOException {
    try (InputStream in = SimulatedLibraryBuildTest.class
        .getResourceAsStream("/io/gpuvirt/testkit/" + HEADER)) {
      assertNotNull(in, "the testkit jar carries " + HEADER);
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static List<String> staticFunctions(String c) {
    List<String> names = new ArrayList<>();
    Matcher m = STATIC_FUNCTION.matcher(c);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  /** gcc runs through this, so that a test sees whether a build compiled anything. */
  private static final class CountingRunner implements CommandRunner {
    private final CommandRunner system = CommandRunner.system();
    private int gccRuns;

    @Override
    public CommandResult run(Command command) {
      if (command.argv().get(0).equals("gcc")) {
        gccRuns++;
      }
      return system.run(command);
    }
  }

  @Test
  void theJsonCodeStandsOnceInTheHeaderAndBothSourcesIncludeIt() throws IOException {
    List<String> shared = staticFunctions(header());
    assertTrue(shared.containsAll(List.of("xalloc", "xstrdup", "jnew", "jfree", "jpush",
        "jremove", "parse_string", "parse_value", "jwrite", "jget", "jint", "jstr", "jarr",
        "jset", "jnum", "jstring")), "the header defines the JSON tree: " + shared);
    for (String which : List.of("nvfm", "nvml")) {
      String source = library(which).source().get();
      assertTrue(source.contains("#include \"" + HEADER + "\""), which + " includes " + HEADER);
      List<String> again = new ArrayList<>(staticFunctions(source));
      again.retainAll(shared);
      assertEquals(List.of(), again, which + " defines none of the header's functions again");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"nvfm", "nvml"})
  void aBuildWritesSourceAndHeaderBesideTheLibraryAndCompilesOnce(String which)
      throws IOException {
    Tools.require("gcc", "gcc");
    Library lib = library(which);
    CountingRunner runner = new CountingRunner();
    Path built = lib.build().apply(runner, dir);

    assertEquals(dir.resolve(lib.libraryFile()), built);
    assertElf(built);
    assertEquals(lib.source().get(), Files.readString(dir.resolve(lib.sourceFile())));
    assertEquals(header(), Files.readString(dir.resolve(HEADER)));
    assertEquals(1, runner.gccRuns);

    FileTime compiled = Files.getLastModifiedTime(built);
    assertEquals(built, lib.build().apply(runner, dir));
    assertEquals(1, runner.gccRuns, "an unchanged source and header are not compiled again");
    assertEquals(compiled, Files.getLastModifiedTime(built));
  }

  @ParameterizedTest
  @ValueSource(strings = {"nvfm", "nvml"})
  void aChangedOrMissingHeaderIsWrittenAgainAndCompiled(String which) throws IOException {
    Tools.require("gcc", "gcc");
    Library lib = library(which);
    CountingRunner runner = new CountingRunner();
    Path built = lib.build().apply(runner, dir);
    byte[] first = Files.readAllBytes(built);

    // A directory left by an older jar: the same source, another header.
    Files.writeString(dir.resolve(HEADER), header().replace("depth > 32", "depth > 31"));
    assertEquals(built, lib.build().apply(runner, dir));
    assertEquals(2, runner.gccRuns, "a changed header alone makes a new build");
    assertEquals(header(), Files.readString(dir.resolve(HEADER)));
    assertArrayEquals(first, Files.readAllBytes(built), "the jar's header, the same library");

    Files.delete(dir.resolve(HEADER));
    assertEquals(built, lib.build().apply(runner, dir));
    assertEquals(3, runner.gccRuns, "a missing header makes a new build");
    assertTrue(Files.exists(dir.resolve(HEADER)));
    assertElf(built);
  }

  @Test
  void bothLibrariesBuildIntoOneDirectoryOverOneHeader() throws IOException {
    Tools.require("gcc", "gcc");
    CountingRunner runner = new CountingRunner();
    Path nvfm = SimulatedNvfmLibrary.build(runner, dir);
    Path nvml = SimulatedNvml.build(runner, dir);
    assertElf(nvfm);
    assertElf(nvml);
    assertEquals(2, runner.gccRuns);
    SimulatedNvfmLibrary.build(runner, dir);
    SimulatedNvml.build(runner, dir);
    assertEquals(2, runner.gccRuns, "each library is up to date beside the other");
  }

  private static void assertElf(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    assertTrue(bytes.length > 4 && bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L'
        && bytes[3] == 'F', file + " is an ELF shared object");
  }
}
