package io.gpuvirt.qemu.libvirt;

import io.gpuvirt.core.GpuvirtException;

/** A VM plan cannot be rendered as libvirt domain XML; the message says why and what to change. */
public class LibvirtException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  public LibvirtException(String message) {
    super(message);
  }
}
