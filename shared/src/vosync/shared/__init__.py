"""vosync contracts shared by every service: settings, catalogue, messages, bus layout, schema."""
