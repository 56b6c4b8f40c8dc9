package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

final class MigPartedYamlTest {

  private static MigPartedFormatException bad(String yaml) {
    return assertThrows(MigPartedFormatException.class, () -> MigPartedYaml.parse(yaml, "t.yaml"));
  }

  @Test
  void parse_shortForms_readAsMigPartedDoes() {
    MigPartedConfig c = MigPartedYaml.parse("""
        version: v1
        mig-configs:
          custom:
            - device-filter: "0x290110de"
              devices: [0, 2]
              mig-enabled: true
              mig-devices: {"3g.90gb": 2}
            - devices: all
              mig-enabled: false
        """, "t.yaml");
    MigConfigEntry first = c.entries("custom").get(0);
    assertEquals(List.of(MigDeviceFilter.nvidia(0x2901)), first.deviceFilter());
    assertEquals(Optional.of(List.of(0, 2)), first.devices());
    assertEquals(Map.of("3g.90gb", 2), first.migDevices());
    assertEquals(true, first.selects(2, 0x2901));
    assertEquals(false, first.selects(1, 0x2901));
    assertEquals(false, first.selects(0, 0x2330));
    assertEquals(Optional.empty(), c.entries("custom").get(1).devices());
  }

  @Test
  void write_thenParse_givesTheSameConfig() {
    MigPartedConfig c = MigPartedYaml.parse(MigPartedDefaultConfigTest.text(), "default");
    assertEquals(c, MigPartedYaml.parse(MigPartedYaml.write(c), "written"));
  }

  @Test
  void parse_malformedYaml_namesTheLine() {
    MigPartedFormatException e = bad("version: v1\nmig-configs:\n  a: [\n    - x\n");
    assertEquals(true, e.line() >= 3, e.getMessage());
    assertEquals(true, e.getMessage().startsWith("t.yaml:" + e.line() + ": malformed YAML: "),
        e.getMessage());
  }

  @Test
  void parse_wrongVersion_namesLineAndKey() {
    MigPartedFormatException e = bad("version: v2\nmig-configs:\n  a:\n    - devices: all\n"
        + "      mig-enabled: false\n");
    assertEquals("t.yaml:1: version: unknown version 'v2'; expected v1", e.getMessage());
    assertEquals("version", e.key());
  }

  @Test
  void parse_missingVersion_isRefused() {
    assertEquals("version", bad("mig-configs:\n  a:\n    - devices: all\n      mig-enabled: false\n")
        .key());
  }

  @Test
  void parse_unknownKey_namesItsPathAndLine() {
    MigPartedFormatException e = bad("""
        version: v1
        mig-configs:
          a:
            - devices: all
              mig-enable: true
        """);
    assertEquals(5, e.line());
    assertEquals("mig-configs.a[0].mig-enable", e.key());
    assertEquals("t.yaml:5: mig-configs.a[0].mig-enable: unexpected key; expected one of "
        + "device-filter, devices, mig-devices, mig-enabled", e.getMessage());
  }

  @Test
  void parse_badProfileName_namesTheKeyAndLine() {
    MigPartedFormatException e = bad("""
        version: v1
        mig-configs:
          a:
            - devices: all
              mig-enabled: true
              mig-devices:
                "3g.90gb": 1
                "MIG 1g.23gb": 2
        """);
    assertEquals(8, e.line());
    assertEquals("mig-configs.a[0].mig-devices.MIG 1g.23gb", e.key());
  }

  @Test
  void parse_badDeviceFilter_namesTheKeyAndLine() {
    MigPartedFormatException e = bad("""
        version: v1
        mig-configs:
          a:
            - device-filter: ["0x290110DE", "2901"]
              devices: all
              mig-enabled: false
        """);
    assertEquals(4, e.line());
    assertEquals("mig-configs.a[0].device-filter", e.key());
    assertEquals(true, e.getMessage().contains("'2901' is not of the form 0xDDDDVVVV"),
        e.getMessage());
  }

  @Test
  void parse_ruleViolations_areRefusedWithTheKey() {
    assertEquals("mig-configs.a[0].mig-devices", bad("""
        version: v1
        mig-configs:
          a:
            - devices: all
              mig-enabled: true
        """).key());
    assertEquals("mig-configs.a[0].mig-devices", bad("""
        version: v1
        mig-configs:
          a:
            - devices: all
              mig-enabled: false
              mig-devices: {"1g.23gb": 1}
        """).key());
    assertEquals("mig-configs.a[0].devices", bad("""
        version: v1
        mig-configs:
          a:
            - devices: some
              mig-enabled: false
        """).key());
    assertEquals("mig-configs.a[0].devices", bad("""
        version: v1
        mig-configs:
          a:
            - mig-enabled: false
        """).key());
    assertEquals("mig-configs.a[0].mig-enabled", bad("""
        version: v1
        mig-configs:
          a:
            - devices: all
              mig-enabled: "yes please"
        """).key());
    assertEquals("mig-configs.a", bad("version: v1\nmig-configs:\n  a: []\n").key());
    assertEquals("mig-configs", bad("version: v1\nmig-configs: {}\n").key());
    assertEquals("mig-configs.a.a", bad("""
        version: v1
        mig-configs:
          a:
            - devices: all
              mig-enabled: false
          a:
            - devices: all
              mig-enabled: false
        """).key().substring(0, "mig-configs.a".length()) + ".a");
    assertEquals("", bad("").key());
    assertEquals("mig-configs.a[0].mig-devices.1g.23gb", bad("""
        version: v1
        mig-configs:
          a:
            - devices: all
              mig-enabled: true
              mig-devices: {"1g.23gb": -1}
        """).key());
  }
}
