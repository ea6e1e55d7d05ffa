"""Named volumes: directories under the state root, labels in SQLite."""
