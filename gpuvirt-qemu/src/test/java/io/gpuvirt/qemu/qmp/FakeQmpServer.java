package io.gpuvirt.qemu.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A scripted QMP peer on a Unix socket: sends a greeting, answers {@code qmp_capabilities}, and
 * answers every other command with the lines its script returns. A script line {@link #CLOSE}
 * closes the connection; {@code {id}} in a line is replaced by the command's id.
 */
final class FakeQmpServer implements AutoCloseable {
  static final String CLOSE = "<close>";
  static final String GREETING = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 2,"
      + " \"major\": 8}, \"package\": \"Debian 1:8.2.2+ds-0ubuntu1.4\"}, \"capabilities\":"
      + " [\"oob\"]}}";

  interface Script {
    List<String> answer(JsonNode command);
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private final ServerSocketChannel server;
  private final Path socket;
  private final List<JsonNode> received = new CopyOnWriteArrayList<>();
  private final Thread thread;
  private volatile SocketChannel client;

  private FakeQmpServer(Path socket, String greeting, Script script) throws IOException {
    this.socket = socket;
    this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    this.thread = new Thread(() -> serve(greeting, script), "fake-qmp");
    thread.setDaemon(true);
    thread.start();
  }

  static FakeQmpServer start(Path dir, Script script) {
    return start(dir, GREETING, script);
  }

  static FakeQmpServer start(Path dir, String greeting, Script script) {
    try {
      return new FakeQmpServer(dir.resolve("fake.qmp"), greeting, script);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  Path socket() {
    return socket;
  }

  /** The commands received, in order. */
  List<JsonNode> received() {
    return List.copyOf(received);
  }

  private void serve(String greeting, Script script) {
    try (SocketChannel c = server.accept()) {
      client = c;
      send(c, greeting);
      BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c),
          StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null) {
        JsonNode cmd = JSON.readTree(line);
        received.add(cmd);
        String id = cmd.path("id").asText();
        List<String> answer = cmd.path("execute").asText().equals("qmp_capabilities")
            ? List.of("{\"return\": {}, \"id\": \"{id}\"}") : script.answer(cmd);
        for (String a : answer) {
          if (a.equals(CLOSE)) {
            return;
          }
          send(c, a.replace("{id}", id));
        }
      }
    } catch (IOException e) {
      // the client went away or the server was closed: the test decides what that means
    }
  }

  private static void send(SocketChannel c, String line) throws IOException {
    ByteBuffer b = ByteBuffer.wrap((line + "\r\n").getBytes(StandardCharsets.UTF_8));
    while (b.hasRemaining()) {
      c.write(b);
    }
  }

  @Override
  public void close() {
    try {
      server.close();
      if (client != null) {
        client.close();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
