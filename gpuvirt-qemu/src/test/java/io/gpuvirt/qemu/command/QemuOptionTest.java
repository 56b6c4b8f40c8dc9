package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.InvalidValueException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class QemuOptionTest {
  private static final String ALPHABET = ",,,,===  ab/\\\"'\u00e9\u4e2d\t;:.-_x0";

  @Test
  void render_doublesCommasInValues() {
    assertEquals("name=opt/x,string=a,,b,,", QemuOption.of().with("name", "opt/x")
        .with("string", "a,b,").render());
  }

  @Test
  void render_putsTheHeadFirst() {
    assertEquals("vfio-pci,host=0000:17:00.0,x-no-mmap=on", QemuOption.of("vfio-pci")
        .with("host", "0000:17:00.0").with("x-no-mmap", true).render());
  }

  @Test
  void parse_readsEscapedCommas() {
    assertEquals(Optional.of("a,b"), QemuOption.parse("name=x,string=a,,b").get("string"));
  }

  @Test
  void parse_valueMayContainEquals() {
    assertEquals(Optional.of("k=v"), QemuOption.parse("string=k=v").get("string"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"bus,id", "x=1,,,=2", "a b=1"})
  void parse_malformedIsRefused(String text) {
    assertThrows(InvalidValueException.class, () -> QemuOption.parse(text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"host,bus", "x=1", "", "a b"})
  void with_keyOutsideQemuNamesIsRefused(String key) {
    assertThrows(InvalidValueException.class, () -> QemuOption.of("vfio-pci").with(key, "1"));
  }

  @Test
  void of_headWithCommaIsRefused() {
    assertThrows(InvalidValueException.class, () -> QemuOption.of("vfio-pci,x-no-mmap=on"));
  }

  @Test
  void parse_roundTripsRandomValues() {
    for (long seed = 0; seed < 2000; seed++) {
      Random r = new Random(seed);
      QemuOption o = r.nextBoolean() ? QemuOption.of("vfio-pci") : QemuOption.of();
      int n = 1 + r.nextInt(5);
      for (int i = 0; i < n; i++) {
        o = o.with("k" + i, randomValue(r));
      }
      assertEquals(o, QemuOption.parse(o.render()), "seed " + seed + ": " + o.render());
    }
  }

  @Test
  void parse_roundTripsRandomArgvs() {
    for (long seed = 0; seed < 500; seed++) {
      Random r = new Random(seed);
      List<QemuOption> options = new ArrayList<>();
      List<String> argv = new ArrayList<>();
      for (int i = 0; i < 1 + r.nextInt(6); i++) {
        QemuOption o = QemuOption.of("dev" + i).with("id", "d" + i).with("s", randomValue(r));
        options.add(o);
        argv.add("-device");
        argv.add(o.render());
      }
      List<QemuOption> back = new ArrayList<>();
      for (int i = 1; i < argv.size(); i += 2) {
        back.add(QemuOption.parse(argv.get(i)));
      }
      assertEquals(options, back, "seed " + seed + ": " + argv);
    }
  }

  static String randomValue(Random r) {
    StringBuilder sb = new StringBuilder();
    int len = r.nextInt(12);
    for (int i = 0; i < len; i++) {
      sb.append(ALPHABET.charAt(r.nextInt(ALPHABET.length())));
    }
    return sb.toString();
  }
}
