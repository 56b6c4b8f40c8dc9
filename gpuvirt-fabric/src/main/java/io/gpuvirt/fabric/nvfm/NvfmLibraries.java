package io.gpuvirt.fabric.nvfm;

import com.sun.jna.Native;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricManagerProtocolException;
import io.gpuvirt.core.fabric.FmReturnCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads libnvfm once per library file and reference-counts {@code fmLibInit}/{@code fmLibShutdown}
 * across connections (libnvfm answers a second {@code fmLibInit} with IN_USE). Thread-safe.
 */
final class NvfmLibraries {
  private static final Logger LOG = LoggerFactory.getLogger(NvfmLibraries.class);
  private static final Map<String, Loaded> LOADED = new HashMap<>();

  /** A loaded library and how many connections use it. */
  static final class Loaded {
    final String name;
    final NvfmLibrary lib;
    int references;
    boolean ownsInit;

    Loaded(String name, NvfmLibrary lib) {
      this.name = name;
      this.lib = lib;
    }
  }

  private NvfmLibraries() {}

  /**
   * Loads the library if needed and initialises it for one more user.
   *
   * @throws FabricManagerProtocolException when it cannot be loaded
   * @throws FabricManagerException when {@code fmLibInit} fails
   */
  static synchronized Loaded acquire(String library) {
    String key = key(library);
    Loaded loaded = LOADED.get(key);
    if (loaded == null) {
      NvfmLibrary lib;
      try {
        lib = Native.load(library, NvfmLibrary.class);
      } catch (UnsatisfiedLinkError e) {
        throw new FabricManagerProtocolException("load " + library, "could not load the Fabric "
            + "Manager client library: " + e.getMessage() + "; install libnvfm1 (it ships "
            + "libnvfm.so.1 with nvidia-fabricmanager) or pass the library's path", e);
      }
      loaded = new Loaded(library, lib);
      LOADED.put(key, loaded);
    }
    if (loaded.references == 0) {
      int rc = loaded.lib.fmLibInit();
      if (rc == FmReturnCode.SUCCESS.code()) {
        loaded.ownsInit = true;
      } else if (rc == FmReturnCode.IN_USE.code()) {
        LOG.debug("{} was initialised by someone else in this process; not shutting it down",
            library);
        loaded.ownsInit = false;
      } else {
        throw NvfmFabricManager.failure("initialise " + library + " (fmLibInit)", rc);
      }
    }
    loaded.references++;
    return loaded;
  }

  /** One user less; the last one shuts the library down if this class initialised it. */
  static synchronized void release(Loaded loaded) {
    if (loaded.references <= 0) {
      return;
    }
    loaded.references--;
    if (loaded.references == 0 && loaded.ownsInit) {
      int rc = loaded.lib.fmLibShutdown();
      loaded.ownsInit = false;
      if (rc != 0) {
        LOG.warn("fmLibShutdown of {} returned {}", loaded.name, rc);
      }
    }
  }

  private static String key(String library) {
    if (!library.contains("/")) {
      return library;
    }
    Path p = Path.of(library).toAbsolutePath().normalize();
    try {
      return Files.exists(p) ? p.toRealPath().toString() : p.toString();
    } catch (IOException e) {
      return p.toString();
    }
  }
}
