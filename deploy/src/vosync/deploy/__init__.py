"""vosync deployment: embedded NATS and PostgreSQL for one machine, and the local launcher."""
