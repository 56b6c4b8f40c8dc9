package io.gpuvirt.core.gpuhost;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A service ({@link java.util.ServiceLoader}) that recognises host roots which are not plain
 * sysfs trees to be read and written directly: the testkit provides one for its simulated hosts,
 * whose writes go through a kernel model. {@link GpuHost} asks every provider in turn; a root no
 * provider recognises is a {@linkplain HostEnvironment#real(Path) real host}.
 */
public interface HostProvider {
  /** The host at {@code root} when this provider knows it, else empty. Writes nothing. */
  Optional<HostEnvironment> open(Path root);
}
