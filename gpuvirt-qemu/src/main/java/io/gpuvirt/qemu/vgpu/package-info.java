/** QEMU devices for vGPUs: a VF by its host address, an mdev by its sysfs path, each behind its own root port. */
package io.gpuvirt.qemu.vgpu;
