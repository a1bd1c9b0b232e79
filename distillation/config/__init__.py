"""Parameters: ``params.yaml`` read and validated once into typed objects."""
