package io.gpuvirt.qemu.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * An asynchronous QMP event: {@code DEVICE_DELETED}, {@code RESET}, {@code SHUTDOWN}.
 *
 * @param name the event name
 * @param data the event's data (an empty object when it has none); a copy, safe to keep
 * @param timestamp when QEMU emitted it
 */
public record QmpEvent(String name, JsonNode data, Instant timestamp) {
  public QmpEvent {
    Objects.requireNonNull(name, "name");
    data = data == null ? JsonNodeFactory.instance.objectNode() : data.deepCopy();
    Objects.requireNonNull(timestamp, "timestamp");
  }

  /** A text member of {@link #data()}: {@code text("device")} of {@code DEVICE_DELETED}. */
  public Optional<String> text(String field) {
    JsonNode n = data.get(field);
    return n != null && n.isTextual() ? Optional.of(n.asText()) : Optional.empty();
  }

  /** The event's data, a fresh copy. */
  @Override
  public JsonNode data() {
    return data.deepCopy();
  }
}
