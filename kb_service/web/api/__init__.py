"""The JSON API: handlers, their query declarations, serializers and the readiness check."""
