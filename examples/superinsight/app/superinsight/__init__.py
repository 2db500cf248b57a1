"""SuperInsight API: the FastAPI service in front of Label Studio, PostgreSQL and Redis."""
