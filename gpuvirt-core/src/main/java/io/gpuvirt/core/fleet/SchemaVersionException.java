package io.gpuvirt.core.fleet;

/**
 * The database holds no gpuvirt schema, an older one, or one written by a newer gpuvirt. gpuvirt
 * never uses tables of another version; the message says whether to migrate or to upgrade.
 */
public final class SchemaVersionException extends FleetException {
  private static final long serialVersionUID = 1L;

  public SchemaVersionException(String message) {
    super(message);
  }
}
