/**
 * libvirt domain XML rendered from gpuvirt-qemu's VM plan ({@link io.gpuvirt.qemu.command.QemuArgs}):
 * a second rendering of the same layout, never a second layout logic.
 */
package io.gpuvirt.qemu.libvirt;
