package io.gpuvirt.examples.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.examples.cli.GpuvirtCli;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code gpuvirt guest-check} end to end: a testkit guest tree and a fake libcuda. */
final class GuestCheckCommandTest {
  @TempDir Path dir;
  private final List<SimulatedHost> hosts = new ArrayList<>();
  private String out;
  private String err;

  @AfterEach
  void closeHosts() {
    hosts.forEach(SimulatedHost::close);
  }

  private Path guest(HostProfile profile) {
    SimulatedHost host = SimulatedHost.create(profile);
    hosts.add(host);
    return host.root();
  }

  private int run(String... args) {
    CommandLine cl = GuestCheckCommand.commandLine();
    StringWriter o = new StringWriter();
    StringWriter e = new StringWriter();
    cl.setOut(new PrintWriter(o));
    cl.setErr(new PrintWriter(e));
    int code = cl.execute(args);
    out = o.toString();
    err = e.toString();
    return code;
  }

  private int check(HostProfile profile, Path cuda, String... more) {
    List<String> args = new ArrayList<>(List.of("--root", guest(profile).toString(),
        "--cuda-library", cuda.toString()));
    args.addAll(List.of(more));
    return run(args.toArray(String[]::new));
  }

  @Test
  void guestCheck_gpuBehindRootPortAndCudaWorks_exits0() {
    int code = check(GuestTrees.behindRootPort(), FakeCuda.build(dir, 0, 1));
    assertEquals(0, code, out + err);
  }

  @Test
  void guestCheck_allGood_printsPassed() {
    check(GuestTrees.fourBehindRootPorts(), FakeCuda.build(dir, 0, 4));
    assertTrue(out.contains("cuInit(0) -> 0 CUDA_SUCCESS, 4 devices")
        && out.contains("Result: PASSED"), out);
  }

  @Test
  void guestCheck_seedPostFailure_exits1() {
    assertEquals(1, check(GuestTrees.flat(), FakeCuda.build(dir, 3, 1)));
  }

  @Test
  void guestCheck_seedPostFailure_namesTheLayoutAndTheCudaError() {
    check(GuestTrees.flat(), FakeCuda.build(dir, 3, 1));
    assertTrue(out.contains("sits directly on root bus 0000:00")
        && out.contains("cuInit(0) returned 3 CUDA_ERROR_NOT_INITIALIZED"), out);
  }

  @Test
  void guestCheck_layoutRightButFabricNotReady_exits1WithTheFabricHint() {
    int code = check(GuestTrees.behindRootPort(), FakeCuda.build(dir, 802, 1));
    assertTrue(code == 1 && out.contains("CUDA_ERROR_SYSTEM_NOT_READY")
        && out.contains("Fabric Manager"), out);
  }

  @Test
  void guestCheck_cudaWorksButGpuFlat_exits1() {
    assertEquals(1, check(GuestTrees.flat(), FakeCuda.build(dir, 0, 1)));
  }

  @Test
  void guestCheck_noGpuInTheGuest_exits1SayingSo() {
    int code = check(GuestTrees.noGpu(), FakeCuda.build(dir, 100, 0));
    assertTrue(code == 1 && out.contains("no NVIDIA GPU"), out);
  }

  @Test
  void guestCheck_missingLibcuda_exits1SayingItCannotLoad() {
    int code = check(GuestTrees.behindRootPort(), dir.resolve("libcuda.so.1"));
    assertTrue(code == 1 && out.contains("cannot load"), out);
  }

  @Test
  void guestCheck_json_reportsVerdictAndCuInitByName() throws IOException {
    check(GuestTrees.flat(), FakeCuda.buildWithoutErrorName(dir, 3), "--json");
    JsonNode json = new ObjectMapper().readTree(out);
    assertEquals(List.of("false", "ON_ROOT_COMPLEX", "3", "CUDA_ERROR_NOT_INITIALIZED", "cuda.h"),
        List.of(json.get("passed").asText(),
            json.get("placement").get("gpus").get(0).get("verdict").asText(),
            json.get("cuda").get("cuInit").get("code").asText(),
            json.get("cuda").get("cuInit").get("name").asText(),
            json.get("cuda").get("cuInit").get("nameFrom").asText()));
  }

  @Test
  void guestCheck_json_listsEachProblem() throws IOException {
    check(GuestTrees.flat(), FakeCuda.build(dir, 3, 1), "--json");
    assertEquals(2, new ObjectMapper().readTree(out).get("problems").size(), out);
  }

  @Test
  void guestCheck_readsTheKernelDriverVersion() throws IOException {
    Path root = guest(GuestTrees.behindRootPort());
    Files.createDirectories(root.resolve("proc/driver/nvidia"));
    Files.writeString(root.resolve("proc/driver/nvidia/version"), "NVRM version: NVIDIA UNIX Open"
        + " Kernel Module for x86_64  580.95.05  Release Build\nGCC version: gcc 13\n");
    run("--root", root.toString(), "--cuda-library", dir.resolve("none.so").toString());
    assertTrue(out.contains("Kernel driver: NVRM version: NVIDIA UNIX Open Kernel Module for"
        + " x86_64 580.95.05 Release Build"), out);
  }

  @Test
  void guestCheck_rootWithoutSysfs_exits2() {
    int code = run("--root", dir.toString(), "--cuda-library", dir.resolve("x.so").toString());
    assertTrue(code == 2 && err.contains("not a sysfs tree"), err);
  }

  @Test
  void guestCheck_unknownOption_exits2() {
    assertEquals(2, run("--bogus"));
  }

  @Test
  void gpuvirtCli_hasTheGuestCheckSubcommand() {
    Path root = guest(GuestTrees.behindRootPort());
    Path cuda = FakeCuda.build(dir, 0, 1);
    assertEquals(0, GpuvirtCli.run("guest-check", "--root", root.toString(), "--cuda-library",
        cuda.toString()));
  }
}
