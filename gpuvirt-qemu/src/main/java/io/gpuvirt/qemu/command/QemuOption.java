package io.gpuvirt.qemu.command;

import io.gpuvirt.core.InvalidValueException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The value of one QEMU option in QEMU's {@code key=value,key=value} syntax, for example the
 * argument of {@code -device}: {@code vfio-pci,host=0000:17:00.0,bus=rp0}.
 *
 * <p>Every value is escaped when the option is rendered: a comma inside a value is doubled, the
 * way QEMU reads it ({@code string=a,,b} is the value {@code a,b}). Keys and the leading head
 * (the driver name of {@code -device}) are restricted to QEMU's name characters, so nothing from
 * outside can add a property. {@link #parse} reads a rendered option back; for every option
 * {@code QemuOption.parse(o.render()).equals(o)}.
 *
 * <pre>{@code
 * QemuOption o = QemuOption.of("vfio-pci").with("host", "0000:17:00.0").with("bus", "rp0");
 * o.render();                                                  // vfio-pci,host=0000:17:00.0,bus=rp0
 * QemuOption.of().with("name", "opt/x").with("string", "a,b").render(); // name=opt/x,string=a,,b
 * }</pre>
 *
 * @param head the leading word without a key (a {@code -device} driver), if any
 * @param properties the properties, in order
 */
public record QemuOption(Optional<String> head, List<Property> properties) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.\\-/]+");

  /**
   * One {@code key=value} pair.
   *
   * @param key the property name: letters, digits, {@code _ . - /}
   * @param value any text without NUL (commas are escaped on rendering)
   */
  public record Property(String key, String value) {
    public Property {
      checkName("property name", key);
      Objects.requireNonNull(value, "value of " + key);
      if (value.indexOf('\0') >= 0) {
        throw new InvalidValueException("value of " + key + " contains NUL");
      }
    }
  }

  public QemuOption {
    Objects.requireNonNull(head, "head");
    head.ifPresent(h -> checkName("option head", h));
    properties = List.copyOf(properties);
  }

  /** An option with a leading head, such as a {@code -device} driver name. */
  public static QemuOption of(String head) {
    return new QemuOption(Optional.of(head), List.of());
  }

  /** An option of {@code key=value} pairs only, such as the argument of {@code -fw_cfg}. */
  public static QemuOption of() {
    return new QemuOption(Optional.empty(), List.of());
  }

  /** This option with {@code key=value} appended. */
  public QemuOption with(String key, String value) {
    List<Property> next = new ArrayList<>(properties);
    next.add(new Property(key, value));
    return new QemuOption(head, next);
  }

  /** This option with {@code key=on} or {@code key=off} appended. */
  public QemuOption with(String key, boolean value) {
    return with(key, value ? "on" : "off");
  }

  /** This option with {@code key=<decimal>} appended. */
  public QemuOption with(String key, long value) {
    return with(key, Long.toString(value));
  }

  /** The value of the first property named {@code key}. */
  public Optional<String> get(String key) {
    return properties.stream().filter(p -> p.key().equals(key)).map(Property::value).findFirst();
  }

  /** This option without the properties named {@code key}. */
  public QemuOption without(String key) {
    return new QemuOption(head, properties.stream().filter(p -> !p.key().equals(key)).toList());
  }

  /** This option with another head (a stand-in driver for the same placement, say). */
  public QemuOption withHead(String newHead) {
    return new QemuOption(Optional.of(newHead), properties);
  }

  /** Doubles every comma: the escaping QEMU applies to option values. */
  public static String escape(String value) {
    return value.replace(",", ",,");
  }

  /** The option as QEMU reads it, every value escaped. */
  public String render() {
    StringBuilder sb = new StringBuilder();
    head.ifPresent(sb::append);
    for (Property p : properties) {
      if (sb.length() > 0) {
        sb.append(',');
      }
      sb.append(p.key()).append('=').append(escape(p.value()));
    }
    return sb.toString();
  }

  /** Same as {@link #render()}. */
  @Override
  public String toString() {
    return render();
  }

  /**
   * Reads an option the way QEMU does: parts are separated by single commas, {@code ,,} inside
   * a value is one comma, a value runs from the first {@code =} of its part, and a first part
   * without {@code =} is the head.
   *
   * @throws InvalidValueException naming the text when a later part has no {@code =} or a name
   *     has characters QEMU names cannot have
   */
  public static QemuOption parse(String text) {
    Objects.requireNonNull(text, "text");
    List<String> parts = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean inValue = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == ',') {
        if (inValue && i + 1 < text.length() && text.charAt(i + 1) == ',') {
          cur.append(',');
          i++;
          continue;
        }
        parts.add(cur.toString());
        cur.setLength(0);
        inValue = false;
        continue;
      }
      if (c == '=') {
        inValue = true;
      }
      cur.append(c);
    }
    if (!text.isEmpty()) {
      parts.add(cur.toString());
    }
    Optional<String> head = Optional.empty();
    List<Property> props = new ArrayList<>();
    for (int i = 0; i < parts.size(); i++) {
      String part = parts.get(i);
      int eq = part.indexOf('=');
      if (eq < 0) {
        if (i != 0) {
          throw new InvalidValueException("QEMU option '" + text + "': part '" + part
              + "' has no '='; only the first part may be a bare name");
        }
        checkName("option head", part);
        head = Optional.of(part);
      } else {
        props.add(new Property(part.substring(0, eq), part.substring(eq + 1)));
      }
    }
    return new QemuOption(head, props);
  }

  private static void checkName(String what, String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new InvalidValueException(what + " '" + name + "' may only contain letters,"
          + " digits, '_', '.', '-' and '/'");
    }
  }
}
