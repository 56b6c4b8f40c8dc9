package io.gpuvirt.fabric.moduleid;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@code nvidia-smi -q} as published from real hosts (the capture's {@code .source} says where):
 * the module-id parser reads the module id each shows.
 */
final class RealNvidiaSmiCapturesTest {
  private static final Path DIR = Path.of("src/test/resources/captures/nvidia-smi");

  @Test
  void parse_seedPostHgxB200Excerpt_reads17AsModule1() throws IOException {
    String text = Files.readString(DIR.resolve("hgx-b200-module-id-excerpt.txt"),
        StandardCharsets.UTF_8);

    NvidiaSmiReport report = ModuleIdDiscovery.parseNvidiaSmi(text, "the seed post");

    assertEquals(Optional.of(1), report.moduleIds().moduleId(PciAddress.parse("0000:17:00.0")));
  }
}
