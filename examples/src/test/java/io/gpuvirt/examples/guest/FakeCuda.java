package io.gpuvirt.examples.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.examples.Tools;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Builds a fake libcuda.so.1 from src/test/c/fake-cuda.c with gcc (see the C file for options). */
final class FakeCuda {
  private FakeCuda() {}

  /** A fake whose cuInit returns {@code initResult} and which sees {@code devices} devices. */
  static Path build(Path dir, int initResult, int devices) {
    return compile(dir, List.of("-DFAKE_CUINIT_RESULT=" + initResult,
        "-DFAKE_DEVICE_COUNT=" + devices));
  }

  /** The same, without cuGetErrorName. */
  static Path buildWithoutErrorName(Path dir, int initResult) {
    return compile(dir, List.of("-DFAKE_CUINIT_RESULT=" + initResult, "-DFAKE_NO_ERROR_NAME"));
  }

  /** A library that exports no CUDA function. */
  static Path buildNotCuda(Path dir) {
    return compile(dir, List.of("-DFAKE_NOT_CUDA"));
  }

  private static Path compile(Path dir, List<String> defines) {
    Tools.require("gcc");
    Path lib = dir.resolve("libcuda.so.1").toAbsolutePath();
    List<String> argv = new ArrayList<>(List.of("gcc", "-std=c11", "-Wall", "-Werror", "-fPIC",
        "-shared", "-fvisibility=hidden"));
    argv.addAll(defines);
    argv.addAll(List.of("-o", lib.toString(),
        Path.of("src/test/c/fake-cuda.c").toAbsolutePath().toString()));
    CommandResult r = CommandRunner.system().run(Command.of(argv));
    assertEquals(0, r.exitCode(), "gcc failed: " + r.stderr());
    return lib;
  }
}
