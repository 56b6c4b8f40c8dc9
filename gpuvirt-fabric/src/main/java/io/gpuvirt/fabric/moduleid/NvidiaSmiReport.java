package io.gpuvirt.fabric.moduleid;

import io.gpuvirt.core.fabric.ModuleIdMap;
import java.util.Optional;

/**
 * What gpuvirt reads from {@code nvidia-smi -q}: the driver version and each GPU's module id.
 *
 * @param driverVersion the host driver version, if printed
 * @param moduleIds module id to GPU address
 */
public record NvidiaSmiReport(Optional<String> driverVersion, ModuleIdMap moduleIds) {}
