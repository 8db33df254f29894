"""The CodeDeploy operations, one module per resource: handlers ``(registry, body) -> answer``."""
