package io.gpuvirt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's "A host in a few lines", taken from README.md itself, compiled as an integrator's own
 * named module and run on the module path, the way a modular application embeds gpuvirt. Nothing
 * here is on the class path: the program sees only what the gpuvirt modules export, and finds the
 * simulated host, its Fabric Manager and the QEMU planner only through the {@code provides}
 * clauses of their module-info (the tests of each module run on the class path, where a missing
 * export or service declaration would go unnoticed).
 */
final class ModulePathReadmeTest {
  private static final Pattern SNIPPET = Pattern.compile(
      "### A host in a few lines[^\\n]*\\n.*?```java\\n(.*?)```", Pattern.DOTALL);
  private static final List<String> MODULES = List.of("gpuvirt-core", "gpuvirt-testkit",
      "gpuvirt-fabric", "gpuvirt-qemu", "jackson-databind", "jackson-core",
      "jackson-annotations", "jackson-dataformat-yaml", "snakeyaml", "commons-exec", "slf4j-api",
      "jna");

  @TempDir static Path dir;
  private static Path compiled;

  /** The README's lines in a module of their own, compiled against the gpuvirt modules. */
  @BeforeAll
  static void compileTheReadmeAsAModule() throws IOException {
    String readme = Files.readString(Path.of("..", "README.md"), StandardCharsets.UTF_8);
    Matcher m = SNIPPET.matcher(readme);
    assertTrue(m.find(), "README.md has no java block under \"### A host in a few lines\"");
    String lines = m.group(1).replace("HostProfile.hgxB200()", "profile");
    Path src = Files.createDirectories(dir.resolve("src/integrator"));
    Files.writeString(dir.resolve("src/module-info.java"),
        "module integrator {\n  requires io.gpuvirt.core;\n  requires io.gpuvirt.testkit;\n}\n");
    Files.writeString(src.resolve("Main.java"), """
        package integrator;

        import io.gpuvirt.core.alloc.AllocationRequest;
        import io.gpuvirt.core.gpuhost.GpuHost;
        import io.gpuvirt.core.ledger.LeaseJson;
        import io.gpuvirt.core.provision.Provisioned;
        import io.gpuvirt.core.provision.Provisioner;
        import io.gpuvirt.testkit.HostProfile;
        import io.gpuvirt.testkit.SimulatedHost;

        public final class Main {
          public static void main(String[] args) {
            HostProfile profile = args[0].equals("h100") ? HostProfile.hgxH100()
                : HostProfile.hgxB200();
        """ + lines + """
          }
        }
        """);
    compiled = Files.createDirectories(dir.resolve("classes"));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    int rc = javac.run(null, null, null, "--module-path", modulePath(), "-d",
        compiled.toString(), dir.resolve("src/module-info.java").toString(),
        src.resolve("Main.java").toString());
    assertEquals(0, rc, "javac could not compile README's lines as a module (see stderr)");
  }

  /** The gpuvirt modules and their dependencies, out of the test's class path. */
  private static String modulePath() {
    List<String> path = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path p = Path.of(entry);
      String name = p.endsWith(Path.of("target", "classes"))
          ? p.getParent().getParent().getFileName().toString() : p.getFileName().toString();
      if (MODULES.stream().anyMatch(module -> name.equals(module)
          || name.startsWith(module + "-") && name.endsWith(".jar")
          && Character.isDigit(name.charAt(module.length() + 1)))) {
        path.add(entry);
      }
    }
    assertTrue(path.size() >= MODULES.size(), "not every module is on the class path: " + path);
    return String.join(File.pathSeparator, path);
  }

  private record Run(int exitCode, String output) {}

  private static Run run(String profile) {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder pb = new ProcessBuilder(java.toString(), "--module-path",
        modulePath() + File.pathSeparator + compiled, "--module", "integrator/integrator.Main",
        profile).redirectErrorStream(true);
    pb.environment().put("TMPDIR", dir.toString());
    try {
      Process p = pb.start();
      byte[] out = p.getInputStream().readAllBytes();
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the integrator program did not finish");
      return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  @Test
  void readmeOnTheModulePath_hgxB200_provisionsAPartitionPrintsThePlanAndTearsDown() {
    Run r = run("b200");

    assertTrue(r.exitCode() == 0 && r.output().contains("\"owner\" : \"vm-42\"")
        && r.output().contains("\"partition\" : ") && r.output().contains("pcie-root-port")
        && r.output().contains("vfio-pci,host=0000:"), r.toString());
  }

  @Test
  void readmeOnTheModulePath_hgxH100_provisionsTwoGroupsPrintsThePlanAndTearsDown() {
    Run r = run("h100");

    assertTrue(r.exitCode() == 0 && r.output().contains("\"owner\" : \"vm-42\"")
        && r.output().contains("vfio-pci,host=0000:"), r.toString());
  }
}
