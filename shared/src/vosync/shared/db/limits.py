"""Column lengths that values are checked against before they reach the database.

The writer drops a longer value as a problem of the reply, the api answers "not found" for a longer
key: both would otherwise get an error from PostgreSQL. The models declare the columns with these.
"""

E164_MAX = 64  # phones.e164
