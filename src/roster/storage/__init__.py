"""Tables, the database handle and migrations."""
