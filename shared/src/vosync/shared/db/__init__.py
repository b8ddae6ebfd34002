"""The PostgreSQL schema (SQLAlchemy models), engines and migrations. Needs the `db` extra."""
