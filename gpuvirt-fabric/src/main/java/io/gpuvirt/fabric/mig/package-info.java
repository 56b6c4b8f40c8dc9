/**
 * mig-parted's declarative MIG configuration ({@code version: v1}, {@code mig-configs},
 * {@code device-filter}, {@code devices}, {@code mig-enabled}, {@code mig-devices}), read and
 * written with Jackson's YAML module so that an operator's existing {@code nvidia-mig-parted}
 * files work unchanged.
 *
 * <p>Why here and not in core: the format is NVIDIA's tool's, with its rules (strict keys, the
 * {@code 0xDDDDVVVV} device filter, {@code devices: all}), and DESIGN puts adapters to NVIDIA
 * software in gpuvirt-fabric while core keeps the model and the rules
 * ({@link io.gpuvirt.core.mig}). Core stays free of the YAML dependency; everything here is a pure
 * function over the core model: {@link io.gpuvirt.fabric.mig.MigParted#plan plan} (which layout an
 * entry asks for on a GPU), {@link io.gpuvirt.fabric.mig.MigParted#check assert} (does a GPU
 * match) and {@link io.gpuvirt.fabric.mig.MigParted#export export} (a GPU's layout as a config).
 * Applying a config to a GPU (mode, reset, destroy, create) needs the backends and comes later.
 */
package io.gpuvirt.fabric.mig;
