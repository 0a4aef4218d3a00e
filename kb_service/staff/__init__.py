"""Staff accounts, sessions and the shared rate limits: the SQL behind who may use the staff side."""
