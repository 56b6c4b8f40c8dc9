package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * sim-json.h, the one JSON reader and writer and state-file lock of both simulated C libraries,
 * checked in C: a program (the test resource sim-json-check.c) compiled with the libraries' gcc
 * warnings reads absent, cut-off, too deep, non-object and wrong-format files, decodes escapes,
 * edits a tree and writes it back, and takes the state lock against a second open file
 * description.
 */
class SimJsonHeaderTest {
  @TempDir Path dir;

  private static void copyResource(String name, Path to) throws IOException {
    try (InputStream in = SimJsonHeaderTest.class.getResourceAsStream(name)) {
      assertNotNull(in, "the resource " + name + " is on the class path");
      Files.write(to, in.readAllBytes());
    }
  }

  @Test
  void theHeaderReadsWritesAndLocksAsBothLibrariesRelyOn() throws IOException {
    Tools.require("gcc", "gcc");
    copyResource("/io/gpuvirt/testkit/sim-json.h", dir.resolve("sim-json.h"));
    copyResource("sim-json-check.c", dir.resolve("sim-json-check.c"));
    Path scratch = Files.createDirectory(dir.resolve("scratch"));
    Path program = dir.resolve("sim-json-check");
    CommandRunner runner = CommandRunner.system();

    CommandResult gcc = runner.run(Command.of(List.of("gcc", "-std=c11", "-O1", "-Wall", "-Wextra",
        "-Werror", "-o", program.toString(), dir.resolve("sim-json-check.c").toString()))
        .withTimeout(Duration.ofMinutes(2)));
    assertEquals(0, gcc.exitCode(), "gcc: " + gcc.stderr());

    CommandResult run = runner.run(Command.of(List.of(program.toString(), scratch.toString())));
    assertEquals("ok", run.stdout().strip(), "exit " + run.exitCode() + ": " + run.stderr());
    assertEquals(0, run.exitCode());
  }
}
