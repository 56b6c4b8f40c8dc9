package io.gpuvirt.examples.guest;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The outcome of {@link GuestCheck}: where the guest's NVIDIA GPUs sit, what the CUDA driver said,
 * and the problems found, each with its fix.
 *
 * @param root the guest root that was read ({@code /} inside a VM)
 * @param gpus the placement of every NVIDIA GPU on the guest's PCI bus, in address order
 * @param cuda what the CUDA driver library said
 * @param kernelDriver the first line of {@code /proc/driver/nvidia/version}, when the nvidia
 *     module is loaded
 */
public record GuestCheckReport(String root, List<GpuPlacement> gpus, CudaStatus cuda,
    Optional<String> kernelDriver) {

  public GuestCheckReport {
    Objects.requireNonNull(root, "root");
    gpus = List.copyOf(gpus);
    Objects.requireNonNull(cuda, "cuda");
    Objects.requireNonNull(kernelDriver, "kernelDriver");
  }

  /** Whether every NVIDIA GPU is behind a root port and CUDA initialises and sees a device. */
  public boolean passed() {
    return problems().isEmpty();
  }

  /** Whether the PCIe placement check passed (at least one GPU, each behind a root port). */
  public boolean placementPassed() {
    return !gpus.isEmpty() && gpus.stream().allMatch(GpuPlacement::passed);
  }

  /** Each failed check, one sentence with its fix; empty when all passed. */
  public List<String> problems() {
    List<String> out = new ArrayList<>();
    if (gpus.isEmpty()) {
      out.add("no NVIDIA GPU (vendor 10de, class 0x0300 or 0x0302) on the guest's PCI bus under "
          + root + "; check that the VM was started with the GPU passed through (vfio-pci)");
    }
    gpus.stream().filter(g -> !g.passed())
        .forEach(g -> out.add(g.explanation() + "; " + g.fix().orElseThrow()));
    if (!cuda.loaded()) {
      out.add(cuda.loadError().orElseThrow());
    } else {
      CuResult init = cuda.init().orElseThrow();
      if (!init.success()) {
        out.add("cuInit(0) returned " + init.code() + " " + cuda.initName().orElseThrow()
            + init.hint().map(h -> ": " + h).orElse(""));
      } else if (cuda.deviceCountResult().isPresent() && !cuda.deviceCountResult().get().success()) {
        CuResult r = cuda.deviceCountResult().get();
        out.add("cuDeviceGetCount returned " + r + r.hint().map(h -> ": " + h).orElse(""));
      } else if (cuda.deviceCountResult().isEmpty()) {
        out.add(cuda.library() + " has no cuDeviceGetCount; give the path of the NVIDIA driver's"
            + " libcuda.so.1");
      } else if (cuda.deviceCount().orElse(0) == 0) {
        out.add("CUDA initialised but sees no device; check CUDA_VISIBLE_DEVICES");
      }
    }
    return List.copyOf(out);
  }

  /** The report as text, one line per fact, problems and their fixes last. */
  public String render() {
    StringBuilder sb = new StringBuilder();
    sb.append("gpuvirt guest check of ").append(root).append('\n');
    sb.append("PCIe placement: ").append(gpus.isEmpty() ? "no NVIDIA GPU found"
        : placementPassed() ? "every NVIDIA GPU is behind a root port" : "FAILED").append('\n');
    for (GpuPlacement g : gpus) {
      sb.append("  ").append(g.passed() ? "ok    " : "FAIL  ").append(g.explanation())
          .append('\n');
    }
    sb.append("CUDA (").append(cuda.library()).append("): ");
    if (!cuda.loaded()) {
      sb.append("library not loaded\n");
    } else {
      CuResult init = cuda.init().orElseThrow();
      sb.append("cuInit(0) -> ").append(init.code()).append(' ')
          .append(cuda.initName().orElseThrow());
      cuda.deviceCount().ifPresent(n -> sb.append(", ").append(n)
          .append(n == 1 ? " device" : " devices"));
      cuda.driverVersionText().ifPresent(v -> sb.append(", driver supports CUDA ").append(v));
      sb.append('\n');
    }
    kernelDriver.ifPresent(k -> sb.append("Kernel driver: ").append(k).append('\n'));
    List<String> problems = problems();
    if (problems.isEmpty()) {
      sb.append("Result: PASSED\n");
    } else {
      sb.append("Result: FAILED\n");
      problems.forEach(p -> sb.append("  - ").append(p).append('\n'));
    }
    return sb.toString();
  }

  /** The report as a JSON object. */
  public String toJson() {
    ObjectMapper mapper = new ObjectMapper();
    ObjectNode n = mapper.createObjectNode();
    n.put("root", root);
    n.put("passed", passed());
    ObjectNode placement = n.putObject("placement");
    placement.put("passed", placementPassed());
    ArrayNode gpuNodes = placement.putArray("gpus");
    for (GpuPlacement g : gpus) {
      ObjectNode o = gpuNodes.addObject();
      o.put("address", g.gpu().toString());
      o.put("id", g.id().toString());
      o.put("verdict", g.verdict().name());
      o.put("passed", g.passed());
      g.rootPort().ifPresent(p -> o.put("rootPort", p.toString()));
      ArrayNode up = o.putArray("upstream");
      g.upstream().forEach(a -> up.add(a.toString()));
      o.put("explanation", g.explanation());
      g.fix().ifPresent(f -> o.put("fix", f));
    }
    ObjectNode c = n.putObject("cuda");
    c.put("library", cuda.library());
    c.put("loaded", cuda.loaded());
    cuda.loadError().ifPresent(e -> c.put("loadError", e));
    cuda.driverVersion().ifPresent(v -> c.put("driverVersion", v));
    cuda.init().ifPresent(r -> {
      ObjectNode i = c.putObject("cuInit");
      i.put("code", r.code());
      i.put("name", cuda.initName().orElseThrow());
      i.put("nameFrom", cuda.initNameFromLibrary().isPresent() ? "cuGetErrorName" : "cuda.h");
      r.hint().ifPresent(h -> i.put("hint", h));
    });
    cuda.deviceCountResult().ifPresent(r -> c.put("cuDeviceGetCount", r.code()));
    cuda.deviceCount().ifPresent(d -> c.put("deviceCount", d));
    kernelDriver.ifPresent(k -> n.put("kernelDriver", k));
    ArrayNode p = n.putArray("problems");
    problems().forEach(p::add);
    return n.toPrettyString();
  }
}
