package io.gpuvirt.testkit.fabric;

/**
 * What a client passed to {@code fmConnect} of the simulated libnvfm, so tests can check the exact
 * connect parameters (version word, address, socket flag and type, timeout).
 *
 * @param version the {@code version} word of the connect parameters
 * @param addressInfo the address string
 * @param timeoutMs the timeout in milliseconds
 * @param addressIsUnixSocket the v1 Unix-socket flag
 * @param addressType the v2 address type (1 INET, 2 UNIX), -1 for v1 parameters
 * @param returnCode the code the library returned
 */
public record ConnectAttempt(long version, String addressInfo, long timeoutMs,
    long addressIsUnixSocket, long addressType, int returnCode) {}
